/**
 * Who is calling, and what they may see or do. A thing the caller may not read answers
 * exactly like a thing that does not exist (404), so probing a private group's bucket by
 * name reveals nothing; a thing they may read but not change answers 403.
 */
import { RokError } from '../protocol/errors.ts'
import { ANONYMOUS, type Action } from './acl.ts'
import { RegistryErrorCode, forbidden, notFound } from './errors.ts'
import { bucketKey, type BucketRec, type GroupRec, type RegistryState } from './state.ts'

export interface Caller {
  /** User name, or ANONYMOUS. */
  user: string
  admin: boolean
  /** Hash of the token used, when authenticated. */
  tokenHash: string | null
}

export const ANONYMOUS_CALLER: Caller = { user: ANONYMOUS, admin: false, tokenHash: null }

export function isAnonymous (caller: Caller): boolean {
  return caller.user === ANONYMOUS
}

export function requireUser (caller: Caller): void {
  if (isAnonymous(caller)) {
    throw new RokError(RegistryErrorCode.UNAUTHENTICATED, 'this needs a token: send Authorization: Bearer TOKEN (rok login URL --token T)')
  }
}

export function requireAdmin (caller: Caller): void {
  requireUser(caller)
  if (!caller.admin) throw forbidden('only a registry admin may do this')
}

export function mayOnBucket (state: RegistryState, caller: Caller, bucket: BucketRec, act: Action): boolean {
  if (caller.admin) return true
  return state.acl.can(caller.user, bucket.group, bucketKey(bucket.group, bucket.name), act, bucket.visibility)
}

export function mayOnGroup (state: RegistryState, caller: Caller, group: GroupRec, act: Action): boolean {
  if (caller.admin) return true
  return state.acl.can(caller.user, group.name, `${group.name}/*`, act, group.visibility)
}

/** The bucket, if the caller may read it; otherwise 404 whether or not it exists. */
export function readableBucket (state: RegistryState, caller: Caller, group: string, name: string): BucketRec {
  const bucket = state.buckets.get(bucketKey(group, name))
  if (bucket === undefined || !mayOnBucket(state, caller, bucket, 'read')) throw notFound(`bucket ${bucketKey(group, name)}`)
  return bucket
}

export function requireOnBucket (state: RegistryState, caller: Caller, bucket: BucketRec, act: Action): void {
  if (!mayOnBucket(state, caller, bucket, act)) {
    requireUser(caller)
    throw forbidden(`you may not ${act} bucket ${bucketKey(bucket.group, bucket.name)}${act === 'admin' ? ' (group owners manage its rules)' : ''}`)
  }
}

export function readableGroup (state: RegistryState, caller: Caller, name: string): GroupRec {
  const group = state.groups.get(name)
  if (group === undefined || !mayOnGroup(state, caller, group, 'read')) throw notFound(`group ${name}`)
  return group
}

export function requireOnGroup (state: RegistryState, caller: Caller, group: GroupRec, act: Action): void {
  if (!mayOnGroup(state, caller, group, act)) {
    requireUser(caller)
    throw forbidden(act === 'admin' ? `only an owner of group ${group.name} may do this` : `you may not ${act} in group ${group.name} (needs the publisher or owner role)`)
  }
}
