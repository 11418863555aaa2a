/**
 * Bucket policies and pins, kept in the home's db (`policies` sublevel):
 *   p!<bucket>          the policy, JSON
 *   pin!<bucket>!<seq>  a pinned version (kept by every retention rule)
 *   ran!<bucket>        when the scheduler last ran the bucket's schedule (ms)
 */
import { isAbsolute } from 'node:path'
import { isValidNamePart, parseBucketName } from '../../protocol/bucket-name.ts'
import { RokError } from '../../protocol/errors.ts'
import type { KeyValue } from '../sync/kv.ts'
import { parseCron } from './cron.ts'
import { PolicyErrorCode } from './errors.ts'
import { globToRegExp } from './glob.ts'
import { checkRetention, hasRetention, type RetentionRules } from './retention.ts'

export interface BucketPolicy {
  bucket: string
  /** 5-field cron expression (UTC) for scheduled snapshots; needs `path`. */
  schedule?: string
  /** Absolute path on the node that the schedule snapshots. */
  path?: string
  include?: string[]
  exclude?: string[]
  /** Publish each scheduled version (announce it to subscribers and the registry) instead of keeping it local. */
  publish?: boolean
  /** Registry groups the bucket is shared with by default when published. */
  shareWith?: string[]
  /** Retention applied after each scheduled snapshot and by `rok forget` without --keep flags. */
  retention?: RetentionRules
  updatedAt: number
}

const MAX_GLOBS = 256

/** Throws a RokError naming the first thing wrong with `policy`. */
export function checkPolicy (policy: BucketPolicy): void {
  parseBucketName(policy.bucket)
  const bad = (message: string): RokError => new RokError(PolicyErrorCode.BAD_POLICY, `policy for ${policy.bucket}: ${message}`, { details: { bucket: policy.bucket } })
  if (policy.schedule !== undefined) {
    parseCron(policy.schedule)
    if (policy.path === undefined) throw bad('a schedule needs the path to snapshot (--path /abs/path)')
  }
  if (policy.path !== undefined && (!isAbsolute(policy.path) || policy.path.includes('\u0000') || policy.path.length > 4096)) {
    throw bad(`path "${policy.path.slice(0, 200)}" must be an absolute path on the node`)
  }
  for (const list of [policy.include ?? [], policy.exclude ?? []]) {
    if (list.length > MAX_GLOBS) throw bad(`at most ${MAX_GLOBS} include or exclude globs`)
    for (const g of list) globToRegExp(g)
  }
  for (const g of policy.shareWith ?? []) {
    if (!isValidNamePart(g)) throw bad(`"${g.slice(0, 80)}" is not a group name (lowercase letters, digits, '.', '-', '_')`)
  }
  if (policy.retention !== undefined && hasRetention(policy.retention)) checkRetention(policy.retention)
}

function seqKey (seq: number): string {
  return String(seq).padStart(15, '0')
}

export class PolicyStore {
  private readonly kv: KeyValue

  constructor (kv: KeyValue) {
    this.kv = kv
  }

  async get (bucket: string): Promise<BucketPolicy | undefined> {
    const v = await this.kv.get(`p!${bucket}`)
    return v === undefined ? undefined : JSON.parse(v) as BucketPolicy
  }

  async list (): Promise<BucketPolicy[]> {
    const out: BucketPolicy[] = []
    for await (const [, v] of this.kv.iterator({ gt: 'p!', lt: 'p!~' })) out.push(JSON.parse(v) as BucketPolicy)
    return out
  }

  async set (policy: BucketPolicy): Promise<BucketPolicy> {
    checkPolicy(policy)
    await this.kv.put(`p!${policy.bucket}`, JSON.stringify(policy), { sync: true })
    return policy
  }

  async remove (bucket: string): Promise<boolean> {
    parseBucketName(bucket)
    const had = await this.kv.get(`p!${bucket}`) !== undefined
    await this.kv.batch([{ type: 'del', key: `p!${bucket}` }, { type: 'del', key: `ran!${bucket}` }], { sync: true })
    return had
  }

  async pin (bucket: string, seq: number, pinned: boolean): Promise<void> {
    if (pinned) await this.kv.put(`pin!${bucket}!${seqKey(seq)}`, '', { sync: true })
    else await this.kv.del(`pin!${bucket}!${seqKey(seq)}`, { sync: true })
  }

  async pins (bucket: string): Promise<Set<number>> {
    const out = new Set<number>()
    for await (const [k] of this.kv.iterator({ gt: `pin!${bucket}!`, lt: `pin!${bucket}!~` })) out.add(Number(k.slice(k.lastIndexOf('!') + 1)))
    return out
  }

  async lastRun (bucket: string): Promise<number | undefined> {
    const v = await this.kv.get(`ran!${bucket}`)
    return v === undefined ? undefined : Number(v)
  }

  async setLastRun (bucket: string, at: number): Promise<void> {
    await this.kv.put(`ran!${bucket}`, String(at), { sync: true })
  }
}
