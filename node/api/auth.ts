/**
 * The node API acts on the node's files as the daemon's user, so every route except
 * health, docs and metrics needs the home's API token (`api-token`, mode 0600): whoever
 * can read the home may drive the node, nobody else — even if the API is bound beyond
 * loopback.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import { RokError } from '../../protocol/errors.ts'
import { NodeApiErrorCode } from './errors.ts'

function digest (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}

export const authPlugin = fp(async function auth (app: FastifyInstance, opts: { token: string }) {
  const expected = digest(opts.token)
  app.addHook('onRequest', async request => {
    if ((request.routeOptions.config as { public?: boolean } | undefined)?.public === true) return
    const header = request.headers.authorization ?? ''
    const given = header.startsWith('Bearer ') ? header.slice(7) : ''
    if (given === '' || !timingSafeEqual(digest(given), expected)) {
      throw new RokError(NodeApiErrorCode.UNAUTHENTICATED, "missing or wrong API token: use the token in the node home's api-token file")
    }
  })
}, { name: 'rok-node-auth' })
