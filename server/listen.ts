/**
 * Listening and graceful shutdown for a fastify app: on close the server stops
 * accepting, lets in-flight requests finish (up to a deadline), then runs onClose hooks.
 */
import type { FastifyInstance } from 'fastify'
import { RokError } from '../protocol/errors.ts'

export interface Listening {
  /** Base URL, e.g. `http://127.0.0.1:7447`. */
  url: string
  port: number
  close: () => Promise<void>
}

/** Parse `HOST:PORT` (or `[v6]:PORT`, or `:PORT`); port 0 picks a free port. */
export function parseListen (text: string, defaultHost = '127.0.0.1'): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw new RokError('ERR_INVALID_LISTEN', `'${text.slice(0, 80)}' is not HOST:PORT (e.g. 127.0.0.1:0)`)
  return { host: m[1] ?? (m[2] === '' ? defaultHost : m[2]), port }
}

export async function listenGracefully (app: FastifyInstance, host: string, port: number, shutdownTimeoutMs = 10_000): Promise<Listening> {
  await app.listen({ host, port })
  const address = app.server.address()
  const bound = typeof address === 'object' && address !== null ? address.port : port
  const url = `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      const timer = setTimeout(() => app.server.closeAllConnections(), shutdownTimeoutMs)
      // Keep-alive sockets that finish their last request while we close would otherwise
      // hold the server open for the keep-alive timeout; drop each as soon as it is idle.
      const sweeper = setInterval(() => app.server.closeIdleConnections(), 50)
      try {
        await app.close()
      } finally {
        clearTimeout(timer)
        clearInterval(sweeper)
      }
    })()
    return await closing
  }
  return { url, port: bound, close }
}
