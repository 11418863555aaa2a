/**
 * Search and the audit log. Search walks matches from the text index in ranking order
 * and asks, of each, whether the caller may read it (public, their groups', or named in a
 * rule for them, then confirmed by the ACL) until the page is full — so a caller never
 * sees, or learns the count of, what they may not read.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { API_PREFIX, AuditList, AuditQuery, Bucket, SearchQuery, SearchResult } from '../../protocol/registry-api.ts'
import { isAnonymous, readableGroup, requireOnGroup, requireUser } from '../access.ts'
import { DEFAULT_AUDIT_LIMIT, DEFAULT_SEARCH_LIMIT } from '../constants.ts'
import { forbidden } from '../errors.ts'
import type { AuditRec } from '../state.ts'
import type { SearchDoc } from '../search-index.ts'
import { auditView, searchHitHead } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

export async function searchRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts
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
    let mayRead: (doc: SearchDoc) => boolean
    if (caller.admin) {
      mayRead = () => true
    } else {
      // Beyond public buckets, only the caller's groups and buckets named in a rule for
      // them can be readable: everything else is turned down without asking the ACL.
      const reach = isAnonymous(caller) ? null : await state.acl.reachOf(caller.user)
      const reads = state.acl.readerOf(caller.user)
      mayRead = doc => (doc.visibility === 'public' || (reach !== null && (reach.groups.has(doc.group) || reach.buckets.has(doc.key)))) &&
        reads(doc.group, doc.key, doc.visibility)
    }
    const accept = (doc: SearchDoc): boolean =>
      (q.visibility === undefined || doc.visibility === q.visibility) &&
      (since === undefined || doc.updatedAt >= since) &&
      mayRead(doc)
    // The index asks `accept` in ranking order (or only of what would make the page), so
    // it returns exactly the best readable matches: the page, and one more to tell if
    // there is a next page.
    const ranked = state.index.search({ query: q.q ?? '', group: q.group, tag: q.tag, accept, limit: offset + limit + 1 })
    const page = ranked.slice(offset, offset + limit)
    const next = ranked.length > offset + limit ? offset + limit : null
    // Each bucket's JSON is made once through the response schema and kept with its record.
    const serialize = serializeBucket ??= reply.compileSerializationSchema(Bucket as unknown as Record<string, unknown>) as (b: Bucket) => string
    let body = '{"results":['
    for (let i = 0; i < page.length; i++) {
      body += `${i === 0 ? '' : ','}${searchHitHead(state.buckets.get(page[i].doc.key)!, serialize)}${page[i].score}}`
    }
    return await reply.type('application/json; charset=utf-8').send(`${body}],"next":${next}}`)
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
