/**
 * Authentication hook: turns `Authorization: Bearer TOKEN` into `request.caller`. No
 * header means anonymous (public reads only); a header with an unknown or revoked token
 * is refused outright, so a mistyped token is noticed instead of silently demoted.
 */
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { RokError } from '../../protocol/errors.ts'
import { ANONYMOUS_CALLER, type Caller } from '../access.ts'
import { MAX_CACHED_TOKEN_HASHES, TOKEN_TOUCH_INTERVAL_MS } from '../constants.ts'
import { RegistryErrorCode } from '../errors.ts'
import { hashToken, type RegistryState } from '../state.ts'

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller
  }
}

const BEARER = /^Bearer ([\x21-\x7e]{1,256})$/

/**
 * Token → its hash, for tokens the registry knows, so a client's every request does not
 * hash it again. Only the hashing is saved: the token's record (revoked or not, its user)
 * is looked up on every request, so a revocation takes effect on the next one.
 */
export class TokenHashes {
  private readonly hashes = new Map<string, string>()

  hash (state: RegistryState, token: string): string {
    let hash = this.hashes.get(token)
    if (hash === undefined) {
      hash = hashToken(token)
      // Only known tokens are kept, so guessed ones cannot crowd out the real ones.
      if (state.tokens.has(hash)) {
        if (this.hashes.size >= MAX_CACHED_TOKEN_HASHES) this.hashes.clear()
        this.hashes.set(token, hash)
      }
    }
    return hash
  }
}

export function authenticate (state: RegistryState, header: string | undefined, hashes = new TokenHashes()): Caller {
  if (header === undefined) return ANONYMOUS_CALLER
  const match = BEARER.exec(header)
  if (match === null) throw new RokError(RegistryErrorCode.UNAUTHENTICATED, "the Authorization header must be 'Bearer TOKEN'")
  const hash = hashes.hash(state, match[1])
  const token = state.tokens.get(hash)
  const user = token === undefined ? undefined : state.users.get(token.user)
  if (token === undefined || token.revokedAt !== null || user === undefined) {
    throw new RokError(RegistryErrorCode.UNAUTHENTICATED, 'the token is unknown or revoked')
  }
  return { user: user.name, admin: user.admin, tokenHash: hash }
}

export const authPlugin = fp(async function auth (app: FastifyInstance, opts: { state: RegistryState }) {
  const { state } = opts
  app.decorateRequest('caller', null as unknown as Caller)
  const hashes = new TokenHashes()
  // preParsing, not onRequest: route-level onRequest hooks (the per-route rate limits, such
  // as the one on login) must run first, so failed logins are counted and limited.
  // A callback hook, not an async one: no promise to make and settle on every request.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    try {
      request.caller = authenticate(state, request.headers.authorization, hashes)
    } catch (err) {
      done(err as Error)
      return
    }
    const hash = request.caller.tokenHash
    if (hash === null) {
      done(null, payload)
      return
    }
    const token = state.tokens.get(hash)!
    const now = state.now()
    if (token.lastUsedAt === null || now - token.lastUsedAt >= TOKEN_TOUCH_INTERVAL_MS) {
      token.lastUsedAt = now
      // Last use is bookkeeping, not registry state: a failed write must not fail the request.
      state.store.touch('tokens', hash, token).catch(err => request.log.warn({ err }, 'could not record token use'))
    }
    done(null, payload)
  })
}, { name: 'rok-auth' })
