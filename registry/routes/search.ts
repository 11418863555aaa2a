/**
 * Search and the audit log. Search walks matches from the text index in ranking order
 * and asks, of each, whether the caller may read it (per group and visibility, or bucket
 * by bucket where a rule names some of a group's buckets: see search-access.ts) until the
 * page is full — so a caller never sees, or learns the count of, what they may not read.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { API_PREFIX, AuditList, AuditQuery, Bucket, SearchQuery, SearchResult } from '../../protocol/registry-api.ts'
import { readableGroup, requireOnGroup, requireUser } from '../access.ts'
import { DEFAULT_AUDIT_LIMIT, DEFAULT_SEARCH_LIMIT } from '../constants.ts'
import { forbidden } from '../errors.ts'
import { SearchAccess } from '../search-access.ts'
import { ASK, SKIP, TAKE, type Decision } from '../search-index.ts'
import type { AuditRec, BucketDoc } from '../state.ts'
import { auditView, searchHitHead } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

/** A hit's score and closing brace as text, for the scores search gives (small integers): made once, not per hit. */
const SCORE_ENDS = Array.from({ length: 256 }, (_, score) => `${score}}`)

export async function searchRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts
  const access = new SearchAccess(state.acl, state.index)
  /** The `Bucket` schema's serializer, compiled on the first search. */
  let serializeBucket: ((b: Bucket) => string) | undefined

  app.get<{ Querystring: Static<typeof SearchQuery> }>(`${API_PREFIX}/search`, {
    schema: {
      summary: 'Full-text search over bucket name, group, description and tags; only what the caller may read',
      tags: ['search'],
      querystring: SearchQuery,
      response: { 200: SearchResult, ...ERROR_RESPONSES }
    }
  }, async (request, reply) => {
    const { caller } = request
    const q = request.query
    const limit = q.limit ?? DEFAULT_SEARCH_LIMIT
    const offset = q.offset ?? 0
    const since = q.updatedSince === undefined ? undefined : Date.parse(q.updatedSince)
    const known = access.of(caller)
    const reads = known instanceof Promise ? await known : known
    let { decide, accept } = reads
    if (q.visibility !== undefined || since !== undefined) {
      const wantPublic = q.visibility === undefined ? undefined : q.visibility === 'public'
      // A group's buckets the caller may read still have their update times asked one by one.
      decide = (group: number, isPublic: boolean): Decision => {
        if (wantPublic !== undefined && isPublic !== wantPublic) return SKIP
        const d = reads.decide(group, isPublic)
        return d === TAKE && since !== undefined ? ASK : d
      }
      accept = (doc: BucketDoc): boolean =>
        (wantPublic === undefined || (doc.visibility === 'public') === wantPublic) &&
        (since === undefined || doc.updatedAt >= since) &&
        reads.accept(doc)
    }
    // The index decides in ranking order (or only of what would make the page), so it
    // returns exactly the best readable matches: the page, and one more to tell if there
    // is a next page.
    const ranked = state.index.search({ query: q.q ?? '', group: q.group, tag: q.tag, decide, accept, limit: offset + limit + 1 })
    const page = ranked.slice(offset, offset + limit)
    const next = ranked.length > offset + limit ? offset + limit : null
    // Each bucket's JSON is made once through the response schema and kept with its record.
    const serialize = serializeBucket ??= reply.compileSerializationSchema(Bucket as unknown as Record<string, unknown>) as (b: Bucket) => string
    // Plain `+` of strings: a template literal converts each part to a string first.
    let body = '{"results":['
    for (let i = 0; i < page.length; i++) {
      const { doc, score } = page[i]
      if (i > 0) body += ','
      body += doc.hitHead ??= searchHitHead(doc.rec, serialize)
      body += SCORE_ENDS[score] ?? String(score) + '}'
    }
    body += next === null ? '],"next":null}' : '],"next":' + String(next) + '}'
    return await reply.type('application/json; charset=utf-8').send(body)
  })

  app.get<{ Querystring: Static<typeof AuditQuery> }>(`${API_PREFIX}/audit`, {
    schema: {
      summary: 'Who changed what, newest first (admins: everything; group owners: their group)',
      tags: ['audit'],
      querystring: AuditQuery,
      response: { 200: AuditList, ...ERROR_RESPONSES }
    }
  }, async (request) => {
    const { caller } = request
    requireUser(caller)
    const { group } = request.query
    if (group === undefined) {
      if (!caller.admin) throw forbidden('only a registry admin may read the whole audit log; group owners pass ?group=NAME')
    } else {
      requireOnGroup(state, caller, readableGroup(state, caller, group), 'admin')
    }
    const limit = request.query.limit ?? DEFAULT_AUDIT_LIMIT
    const entries = []
    for await (const [, rec] of state.store.entries('audit', { reverse: true })) {
      const a = rec as AuditRec
      if (group !== undefined && a.target !== group && !a.target.startsWith(`${group}/`)) continue
      entries.push(auditView(a))
      if (entries.length === limit) break
    }
    return { entries }
  })
}
