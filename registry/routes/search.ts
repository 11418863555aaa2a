/**
 * Search and the audit log. Search ranks matches from the text index, pre-filtered to
 * buckets the caller could possibly read (public, their groups', or named in a rule for
 * them), then confirms each with the ACL in rank order until the page is full — so a
 * caller never sees, or learns the count of, what they may not read.
 */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { API_PREFIX, AuditList, AuditQuery, SearchQuery, SearchResult } from '../../protocol/registry-api.ts'
import { isAnonymous, mayOnBucket, readableGroup, requireOnGroup, requireUser } from '../access.ts'
import { DEFAULT_AUDIT_LIMIT, DEFAULT_SEARCH_LIMIT, SEARCH_SLACK } from '../constants.ts'
import { forbidden } from '../errors.ts'
import type { AuditRec } from '../state.ts'
import type { SearchDoc } from '../search-index.ts'
import { auditView, bucketView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

export async function searchRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts

  app.get<{ Querystring: Static<typeof SearchQuery> }>(`${API_PREFIX}/search`, {
    schema: {
      summary: 'Full-text search over bucket name, group, description and tags; only what the caller may read',
      tags: ['search'],
      querystring: SearchQuery,
      response: { 200: SearchResult, ...ERROR_RESPONSES }
    }
  }, async (request) => {
    const { caller } = request
    const q = request.query
    const limit = q.limit ?? DEFAULT_SEARCH_LIMIT
    const offset = q.offset ?? 0
    const since = q.updatedSince === undefined ? undefined : Date.parse(q.updatedSince)
    let possible: (key: string, group: string) => boolean
    if (caller.admin) {
      possible = () => true
    } else if (isAnonymous(caller)) {
      possible = () => false
    } else {
      const reach = await state.acl.reachOf(caller.user)
      possible = (key, group) => reach.groups.has(group) || reach.buckets.has(key)
    }
    const accept = (doc: SearchDoc): boolean => {
      if (q.visibility !== undefined && doc.visibility !== q.visibility) return false
      if (since !== undefined && doc.updatedAt < since) return false
      return doc.visibility === 'public' || possible(doc.key, doc.group)
    }
    // Rank only as many as the page needs (plus slack for candidates the ACL then turns
    // down); widen and rank again in the rare case that was not enough.
    const needed = offset + limit + 1
    let want = needed + SEARCH_SLACK
    while (true) {
      const ranked = state.index.search({ query: q.q ?? '', group: q.group, tag: q.tag, accept, limit: want })
      const results = []
      let seen = 0
      let next: number | null = null
      for (const { doc, score } of ranked) {
        const bucket = state.buckets.get(doc.key)!
        if (!mayOnBucket(state, caller, bucket, 'read')) continue
        if (seen++ < offset) continue
        if (results.length === limit) {
          next = offset + limit
          break
        }
        results.push({ ...bucketView(bucket), score })
      }
      if (next !== null || ranked.length < want) return { results, next }
      want *= 4
    }
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
