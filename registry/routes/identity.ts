/** Who am I, the registry's key, users and API tokens. */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Static } from 'typebox'
import { API_PREFIX, CreateUserBody, Identity, NewToken, RegistryInfo, TokenIdParams, TokenInfo, TokenList } from '../../protocol/registry-api.ts'
import { requireAdmin, requireUser } from '../access.ts'
import { alreadyExists, notFound } from '../errors.ts'
import { newToken, tokenRecord, type TokenRec } from '../state.ts'
import { tokenView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

export async function identityRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state, signingKey } = opts
  const info: Static<typeof RegistryInfo> = {
    peerId: peerIdFromPrivateKey(signingKey).toString(),
    publicKey: Buffer.from(publicKeyToProtobuf(signingKey.publicKey)).toString('base64'),
    grantTtlMs: opts.grantTtlMs,
    providerTtlMs: opts.providerTtlMs
  }

  app.get(`${API_PREFIX}/registry`, {
    schema: { summary: 'The registry signing key nodes verify grants with', tags: ['identity'], security: [], response: { 200: RegistryInfo, ...ERROR_RESPONSES } }
  }, async () => info)

  const whoami = async (request: FastifyRequest): Promise<Static<typeof Identity>> => {
    requireUser(request.caller)
    return { user: request.caller.user, admin: request.caller.admin }
  }

  app.post(`${API_PREFIX}/login`, {
    schema: { summary: 'Check a token (what `rok login` does); rate-limited per client', tags: ['identity'], response: { 200: Identity, ...ERROR_RESPONSES } },
    config: { rateLimit: opts.loginRateLimit === false ? false : opts.loginRateLimit }
  }, whoami)

  app.get(`${API_PREFIX}/me`, {
    schema: { summary: 'The calling user', tags: ['identity'], response: { 200: Identity, ...ERROR_RESPONSES } }
  }, whoami)

  app.post<{ Body: Static<typeof CreateUserBody> }>(`${API_PREFIX}/users`, {
    schema: { summary: 'Create a user and their first token (admins only)', tags: ['identity'], body: CreateUserBody, response: { 201: NewToken, ...ERROR_RESPONSES } }
  }, async (request, reply) => {
    requireAdmin(request.caller)
    const { name } = request.body
    const admin = request.body.admin ?? false
    const token = newToken()
    const result = await state.change(tx => {
      if (state.users.has(name)) throw alreadyExists(`user ${name}`)
      const now = state.now()
      const user = { name, admin, createdAt: now }
      const rec = tokenRecord(token, name, now)
      tx.put('users', name, user)
      tx.put('tokens', rec.hash, rec)
      tx.audit(request.caller.user, 'user.create', name, { admin })
      tx.then(() => { state.users.set(name, user); state.tokens.set(rec.hash, rec) })
      return { user: name, id: rec.id, token }
    })
    return reply.code(201).send(result)
  })

  app.get(`${API_PREFIX}/tokens`, {
    schema: { summary: "The caller's tokens, with last use (never the secrets)", tags: ['identity'], response: { 200: TokenList, ...ERROR_RESPONSES } }
  }, async (request) => {
    requireUser(request.caller)
    const tokens = [...state.tokens.values()].filter(t => t.user === request.caller.user).sort((a, b) => a.createdAt - b.createdAt).map(tokenView)
    return { tokens }
  })

  app.post(`${API_PREFIX}/tokens`, {
    schema: { summary: 'Create another token for the caller', tags: ['identity'], response: { 201: NewToken, ...ERROR_RESPONSES } }
  }, async (request, reply) => {
    requireUser(request.caller)
    const token = newToken()
    const user = request.caller.user
    const result = await state.change(tx => {
      const rec = tokenRecord(token, user, state.now())
      tx.put('tokens', rec.hash, rec)
      tx.audit(user, 'token.create', rec.id)
      tx.then(() => { state.tokens.set(rec.hash, rec) })
      return { user, id: rec.id, token }
    })
    return reply.code(201).send(result)
  })

  app.delete<{ Params: Static<typeof TokenIdParams> }>(`${API_PREFIX}/tokens/:id`, {
    schema: { summary: 'Revoke a token (your own; admins: any)', tags: ['identity'], params: TokenIdParams, response: { 200: TokenInfo, ...ERROR_RESPONSES } }
  }, async (request) => {
    requireUser(request.caller)
    const { id } = request.params
    return await state.change(tx => {
      const rec = [...state.tokens.values()].find(t => t.id === id && (t.user === request.caller.user || request.caller.admin))
      if (rec === undefined) throw notFound(`token ${id}`)
      if (rec.revokedAt !== null) return tokenView(rec)
      const revoked: TokenRec = { ...rec, revokedAt: state.now() }
      tx.put('tokens', rec.hash, revoked)
      tx.audit(request.caller.user, 'token.revoke', id, { user: rec.user })
      tx.then(() => { state.tokens.set(rec.hash, revoked) })
      return tokenView(revoked)
    })
  })
}
