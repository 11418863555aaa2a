/** Buckets `group/name`: create, show, update, and their per-bucket access rules. */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { API_PREFIX, Bucket, BucketParams, CreateBucketBody, GroupParams, Rule, RuleList, UpdateBucketBody, type Visibility } from '../../protocol/registry-api.ts'
import { readableBucket, readableGroup, requireOnBucket, requireOnGroup } from '../access.ts'
import { alreadyExists, invalidRequest, notFound } from '../errors.ts'
import { bucketKey, type BucketRec, type GroupRec } from '../state.ts'
import { bucketView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

/** A bucket inherits its group's visibility and may only be stricter. */
function checkVisibility (group: GroupRec, wanted: Visibility | undefined): Visibility {
  if (wanted === 'public' && group.visibility === 'private') {
    throw invalidRequest(`group ${group.name} is private, so its buckets cannot be public`)
  }
  return wanted ?? group.visibility
}

export async function bucketRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts

  app.post<{ Params: Static<typeof GroupParams>, Body: Static<typeof CreateBucketBody> }>(`${API_PREFIX}/groups/:group/buckets`, {
    schema: { summary: 'Create a bucket in a group (publishers and owners)', tags: ['buckets'], params: GroupParams, body: CreateBucketBody, response: { 201: Bucket, ...ERROR_RESPONSES } }
  }, async (request, reply) => {
    const group = readableGroup(state, request.caller, request.params.group)
    requireOnGroup(state, request.caller, group, 'publish')
    const body = request.body
    const visibility = checkVisibility(group, body.visibility)
    const rec = await state.change(tx => {
      const key = bucketKey(group.name, body.name)
      if (state.buckets.has(key)) throw alreadyExists(`bucket ${key}`)
      const now = state.now()
      const rec: BucketRec = {
        group: group.name, name: body.name, description: body.description ?? '', tags: body.tags ?? [], visibility,
        createdAt: now, updatedAt: now, latestSeq: 0, latestCid: null
      }
      tx.put('buckets', key, rec)
      tx.audit(request.caller.user, 'bucket.create', key, { visibility })
      tx.then(() => state.setBucket(rec))
      return rec
    })
    return reply.code(201).send(bucketView(rec))
  })

  app.get<{ Params: Static<typeof BucketParams> }>(`${API_PREFIX}/buckets/:group/:name`, {
    schema: { summary: 'A bucket', tags: ['buckets'], params: BucketParams, response: { 200: Bucket, ...ERROR_RESPONSES } }
  }, async (request) => bucketView(readableBucket(state, request.caller, request.params.group, request.params.name)))

  app.patch<{ Params: Static<typeof BucketParams>, Body: Static<typeof UpdateBucketBody> }>(`${API_PREFIX}/buckets/:group/:name`, {
    schema: { summary: "Change a bucket's description, tags or visibility (publishers)", tags: ['buckets'], params: BucketParams, body: UpdateBucketBody, response: { 200: Bucket, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireOnBucket(state, request.caller, bucket, 'publish')
    const body = request.body
    const group = state.groups.get(bucket.group)!
    const visibility = body.visibility === undefined ? bucket.visibility : checkVisibility(group, body.visibility)
    const rec = await state.change(tx => {
      const current = state.buckets.get(bucketKey(bucket.group, bucket.name))!
      const next: BucketRec = {
        ...current,
        description: body.description ?? current.description,
        tags: body.tags ?? current.tags,
        visibility,
        updatedAt: state.now()
      }
      tx.put('buckets', bucketKey(next.group, next.name), next)
      tx.audit(request.caller.user, 'bucket.update', bucketKey(next.group, next.name), { ...body })
      tx.then(() => state.setBucket(next))
      return next
    })
    return bucketView(rec)
  })

  app.get<{ Params: Static<typeof BucketParams> }>(`${API_PREFIX}/buckets/:group/:name/rules`, {
    schema: { summary: "A bucket's access rules (group owners)", tags: ['buckets'], params: BucketParams, response: { 200: RuleList, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireOnBucket(state, request.caller, bucket, 'admin')
    return { rules: await state.acl.rules(bucketKey(bucket.group, bucket.name)) }
  })

  app.post<{ Params: Static<typeof BucketParams>, Body: Static<typeof Rule> }>(`${API_PREFIX}/buckets/:group/:name/rules`, {
    schema: { summary: 'Grant or deny read/publish on a bucket to a user or group (group owners); deny wins', tags: ['buckets'], params: BucketParams, body: Rule, response: { 200: RuleList, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireOnBucket(state, request.caller, bucket, 'admin')
    const key = bucketKey(bucket.group, bucket.name)
    const rule = request.body
    await state.change(async tx => {
      const [kind, name] = rule.subject.split(':')
      if (kind === 'user' ? !state.users.has(name) : !state.groups.has(name)) throw notFound(`${kind} ${name}`)
      if (await state.acl.hasRule(bucket.group, key, rule)) return
      tx.acl(state.acl.addRule(bucket.group, key, rule))
      tx.audit(request.caller.user, 'bucket.rule.add', key, { ...rule })
    })
    return { rules: await state.acl.rules(key) }
  })

  app.delete<{ Params: Static<typeof BucketParams>, Body: Static<typeof Rule> }>(`${API_PREFIX}/buckets/:group/:name/rules`, {
    schema: { summary: 'Remove an access rule (group owners)', tags: ['buckets'], params: BucketParams, body: Rule, response: { 200: RuleList, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireOnBucket(state, request.caller, bucket, 'admin')
    const key = bucketKey(bucket.group, bucket.name)
    const rule = request.body
    await state.change(async tx => {
      if (!(await state.acl.hasRule(bucket.group, key, rule))) throw notFound(`rule ${rule.effect} ${rule.right} for ${rule.subject} on ${key}`)
      tx.acl(state.acl.removeRule(bucket.group, key, rule))
      tx.audit(request.caller.user, 'bucket.rule.remove', key, { ...rule })
    })
    return { rules: await state.acl.rules(key) }
  })
}
