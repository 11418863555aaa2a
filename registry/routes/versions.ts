/**
 * Version references: a publisher node's signed record, checked (signature, bucket,
 * history) and kept. Only the record — at most 16 KiB — is accepted: the registry never
 * takes chunk or manifest data.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { RokError } from '../../protocol/errors.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { API_PREFIX, AppendVersionBody, BucketParams, VersionList, VersionListQuery, VersionParams, VersionRef, VersionWithRecord } from '../../protocol/registry-api.ts'
import { readableBucket, requireOnBucket } from '../access.ts'
import { DEFAULT_VERSION_LIST_LIMIT } from '../constants.ts'
import { RegistryErrorCode, invalidRequest, notFound } from '../errors.ts'
import { bucketKey, versionKey, type BucketRec, type ProviderRec, type VersionRec } from '../state.ts'
import { versionView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

export async function versionRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts

  app.post<{ Params: Static<typeof BucketParams>, Body: Static<typeof AppendVersionBody> }>(`${API_PREFIX}/buckets/:group/:name/versions`, {
    schema: {
      summary: "Append a version reference: the publisher node's signed record (publishers)",
      tags: ['versions'],
      params: BucketParams,
      body: AppendVersionBody,
      response: { 200: VersionRef, 201: VersionRef, ...ERROR_RESPONSES }
    }
  }, async (request, reply) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireOnBucket(state, request.caller, bucket, 'publish')
    const key = bucketKey(bucket.group, bucket.name)
    const { cid, bytes, record } = await decodeVersionRecord(Buffer.from(request.body.record, 'base64'))
    if (record.bucket !== key) throw invalidRequest(`the record is for bucket ${record.bucket}, not ${key}`)
    const node = state.nodes.get(record.publisher)
    if (node === undefined || node.user !== request.caller.user) {
      throw new RokError(RegistryErrorCode.NODE_NOT_REGISTERED, `publisher node ${record.publisher} is not registered to ${request.caller.user}; register it first`)
    }
    const result = await state.change(async tx => {
      const current = state.buckets.get(key)!
      if (record.seq <= current.latestSeq) {
        const existing: VersionRec | undefined = await state.store.get('versions', versionKey(key, record.seq))
        // A publisher retrying a queued reference is answered with what was recorded.
        if (existing?.cid === cid.toString()) return { created: false, view: versionView(key, existing) }
        throw new RokError(RegistryErrorCode.VERSION_CONFLICT, `${key}@${record.seq} is already recorded with a different record (latest is ${current.latestSeq})`)
      }
      if (record.seq !== current.latestSeq + 1) {
        throw new RokError(RegistryErrorCode.VERSION_CONFLICT, `${key}@${record.seq} does not follow the latest version ${current.latestSeq}`)
      }
      const parent = record.parent === null ? null : record.parent.toString()
      if (parent !== current.latestCid) {
        throw new RokError(RegistryErrorCode.VERSION_CONFLICT, `${key}@${record.seq} names parent ${parent}, but the latest version is ${current.latestCid}`)
      }
      const now = state.now()
      const rec: VersionRec = {
        seq: record.seq,
        cid: cid.toString(),
        root: record.root.toString(),
        parent,
        kind: record.kind,
        size: record.size,
        publisher: record.publisher,
        createdAt: record.createdAt,
        message: record.message,
        signature: Buffer.from(record.signature).toString('base64'),
        record: Buffer.from(bytes).toString('base64'),
        recordedAt: now
      }
      const next: BucketRec = { ...current, latestSeq: rec.seq, latestCid: rec.cid, updatedAt: now }
      const provider: ProviderRec = { peer: record.publisher, seq: rec.seq, updatedAt: now }
      tx.put('versions', versionKey(key, rec.seq), rec)
      tx.put('buckets', key, next)
      tx.put('providers', `${key}!${provider.peer}`, provider)
      tx.audit(request.caller.user, 'version.append', key, { seq: rec.seq, cid: rec.cid, publisher: rec.publisher })
      tx.then(() => {
        state.setBucket(next)
        state.providerMap(key).set(provider.peer, provider)
      })
      return { created: true, view: versionView(key, rec) }
    })
    return reply.code(result.created ? 201 : 200).send(result.view)
  })

  app.get<{ Params: Static<typeof BucketParams>, Querystring: Static<typeof VersionListQuery> }>(`${API_PREFIX}/buckets/:group/:name/versions`, {
    schema: { summary: "A bucket's version history, oldest first", tags: ['versions'], params: BucketParams, querystring: VersionListQuery, response: { 200: VersionList, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    const key = bucketKey(bucket.group, bucket.name)
    const after = request.query.after ?? 0
    const limit = request.query.limit ?? DEFAULT_VERSION_LIST_LIMIT
    const versions = []
    for await (const [, rec] of state.store.entries('versions', { gte: versionKey(key, after + 1), lt: `${key}"`, limit })) {
      versions.push(versionView(key, rec as VersionRec))
    }
    const last = versions.at(-1)
    return { versions, next: last !== undefined && last.seq < bucket.latestSeq ? last.seq : null }
  })

  app.get<{ Params: Static<typeof VersionParams> }>(`${API_PREFIX}/buckets/:group/:name/versions/:seq`, {
    schema: { summary: 'One version, with its signed record', tags: ['versions'], params: VersionParams, response: { 200: VersionWithRecord, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    const key = bucketKey(bucket.group, bucket.name)
    const rec: VersionRec | undefined = await state.store.get('versions', versionKey(key, request.params.seq))
    if (rec === undefined) throw notFound(`version ${key}@${request.params.seq}`)
    return { ...versionView(key, rec), record: rec.record }
  })
}
