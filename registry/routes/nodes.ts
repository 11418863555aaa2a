/**
 * Nodes prove they hold their peer ID's key by signing a one-time challenge, then are
 * listed as providers of the buckets they hold; a subscriber asks for providers and for
 * a grant — the registry-signed capability its peers check offline.
 */
import { randomBytes } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { multiaddr } from '@multiformats/multiaddr'
import { RokError } from '../../protocol/errors.ts'
import { signGrant, type GrantRight } from '../../protocol/grant.ts'
import { CHALLENGE_BYTES, verifyNodeProof } from '../../protocol/node-proof.ts'
import {
  API_PREFIX, AnnounceProviderBody, BucketParams, Challenge, ChallengeBody, GrantRequestBody, GrantResponse,
  NodeInfo, NodeList, NodeParams, Provider, ProviderList, ProviderParams, RegisterNodeBody
} from '../../protocol/registry-api.ts'
import { mayOnBucket, readableBucket, requireUser, type Caller } from '../access.ts'
import { CHALLENGE_TTL_MS, MAX_PENDING_CHALLENGES } from '../constants.ts'
import { RegistryErrorCode, alreadyExists, invalidRequest } from '../errors.ts'
import { bucketKey, type NodeRec, type ProviderRec, type RegistryState } from '../state.ts'
import { nodeView, providerView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

interface PendingChallenge { peer: string, user: string, expires: number }

function ownNode (state: RegistryState, caller: Caller, peer: string): NodeRec {
  const node = state.nodes.get(peer)
  if (node === undefined || node.user !== caller.user) {
    throw new RokError(RegistryErrorCode.NODE_NOT_REGISTERED, `node ${peer} is not registered to ${caller.user}; register it first`)
  }
  return node
}

export async function nodeRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts
  // Challenges are not registry state: a restart just makes nodes ask again.
  const pending = new Map<string, PendingChallenge>()

  app.post<{ Body: Static<typeof ChallengeBody> }>(`${API_PREFIX}/nodes/challenge`, {
    schema: { summary: 'A one-time challenge for a node to sign with its key', tags: ['nodes'], body: ChallengeBody, response: { 200: Challenge, ...ERROR_RESPONSES } }
  }, async (request) => {
    requireUser(request.caller)
    const now = state.now()
    for (const [k, c] of pending) {
      if (c.expires > now && pending.size < MAX_PENDING_CHALLENGES) break
      pending.delete(k)
    }
    const challenge = randomBytes(CHALLENGE_BYTES).toString('base64')
    const expires = now + CHALLENGE_TTL_MS
    pending.set(challenge, { peer: request.body.peer, user: request.caller.user, expires })
    return { challenge, expiresAt: new Date(expires).toISOString() }
  })

  app.put<{ Params: Static<typeof NodeParams>, Body: Static<typeof RegisterNodeBody> }>(`${API_PREFIX}/nodes/:peer`, {
    schema: { summary: "Register a node (its addresses) with a signed challenge", tags: ['nodes'], params: NodeParams, body: RegisterNodeBody, response: { 200: NodeInfo, ...ERROR_RESPONSES } }
  }, async (request) => {
    requireUser(request.caller)
    const { peer } = request.params
    const { addresses } = request.body
    const entry = pending.get(request.body.challenge)
    pending.delete(request.body.challenge)
    if (entry === undefined || entry.peer !== peer || entry.user !== request.caller.user || entry.expires <= state.now()) {
      throw new RokError(RegistryErrorCode.BAD_CHALLENGE, 'the challenge is unknown, used, expired or for another node; ask for a new one')
    }
    for (const a of addresses) {
      try {
        multiaddr(a)
      } catch (cause) {
        throw invalidRequest(`'${a.slice(0, 80)}' is not a multiaddr`, { cause })
      }
    }
    await verifyNodeProof(Buffer.from(request.body.challenge, 'base64'), peer, Buffer.from(request.body.signature, 'base64'))
    const rec = await state.change(tx => {
      const existing = state.nodes.get(peer)
      if (existing !== undefined && existing.user !== request.caller.user) throw alreadyExists(`node ${peer} (registered to another user)`)
      const rec: NodeRec = { peer, user: request.caller.user, addresses: [...new Set(addresses)], registeredAt: existing?.registeredAt ?? state.now() }
      tx.put('nodes', peer, rec)
      tx.audit(request.caller.user, 'node.register', peer, { addresses: rec.addresses })
      tx.then(() => { state.nodes.set(peer, rec) })
      return rec
    })
    return nodeView(rec)
  })

  app.get(`${API_PREFIX}/nodes`, {
    schema: { summary: "The caller's nodes (admins: all)", tags: ['nodes'], response: { 200: NodeList, ...ERROR_RESPONSES } }
  }, async (request) => {
    requireUser(request.caller)
    const nodes = [...state.nodes.values()].filter(n => request.caller.admin || n.user === request.caller.user).map(nodeView)
    return { nodes }
  })

  app.get<{ Params: Static<typeof BucketParams> }>(`${API_PREFIX}/buckets/:group/:name/providers`, {
    schema: { summary: "Nodes holding a bucket's versions", tags: ['nodes'], params: BucketParams, response: { 200: ProviderList, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    const fresh = state.now() - opts.providerTtlMs
    const providers = [...(state.providers.get(bucketKey(bucket.group, bucket.name))?.values() ?? [])]
      .filter(p => p.updatedAt > fresh && state.nodes.has(p.peer))
      .sort((a, b) => b.seq - a.seq || b.updatedAt - a.updatedAt)
      .map(p => providerView(p, state.nodes.get(p.peer)))
    return { providers }
  })

  app.put<{ Params: Static<typeof ProviderParams>, Body: Static<typeof AnnounceProviderBody> }>(`${API_PREFIX}/buckets/:group/:name/providers/:peer`, {
    schema: { summary: 'Announce that one of your nodes holds a bucket up to version seq', tags: ['nodes'], params: ProviderParams, body: AnnounceProviderBody, response: { 200: Provider, ...ERROR_RESPONSES } }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireUser(request.caller)
    const node = ownNode(state, request.caller, request.params.peer)
    const key = bucketKey(bucket.group, bucket.name)
    const rec = await state.change(tx => {
      const latest = state.buckets.get(key)!.latestSeq
      if (request.body.seq > latest) throw invalidRequest(`${key} has no version ${request.body.seq} (latest is ${latest})`)
      const rec: ProviderRec = { peer: node.peer, seq: request.body.seq, updatedAt: state.now() }
      tx.put('providers', `${key}!${node.peer}`, rec)
      tx.then(() => { state.providerMap(key).set(node.peer, rec) })
      return rec
    })
    return providerView(rec, node)
  })

  app.post<{ Params: Static<typeof BucketParams>, Body: Static<typeof GrantRequestBody> }>(`${API_PREFIX}/buckets/:group/:name/grants`, {
    schema: {
      summary: 'A short-lived signed grant for one of your nodes; ask again before it expires to renew',
      tags: ['nodes'],
      params: BucketParams,
      body: GrantRequestBody,
      response: { 200: GrantResponse, ...ERROR_RESPONSES }
    }
  }, async (request) => {
    const bucket = readableBucket(state, request.caller, request.params.group, request.params.name)
    requireUser(request.caller)
    const node = ownNode(state, request.caller, request.body.peer)
    const rights: GrantRight[] = ['read']
    if (mayOnBucket(state, request.caller, bucket, 'publish')) rights.push('publish')
    const issuedAt = state.now()
    const { bytes, grant } = await signGrant({ peer: node.peer, bucket: bucketKey(bucket.group, bucket.name), rights, issuedAt, expires: issuedAt + opts.grantTtlMs }, opts.signingKey)
    return { grant: Buffer.from(bytes).toString('base64'), peer: grant.peer, bucket: grant.bucket, rights: grant.rights, issuedAt: grant.issuedAt, expires: grant.expires }
  })
}
