/**
 * Run the registry on a TCP port. Only listening and shutting down live here: on close
 * the server stops accepting, lets in-flight requests finish (up to a deadline), then
 * closes the store.
 */
import { buildRegistry, type Registry, type RegistryInit } from './app.ts'
import { DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { invalidRequest } from './errors.ts'

export interface ServerInit extends RegistryInit {
  /** @default '127.0.0.1' */
  host?: string
  /** 0 picks a free port. @default 7447 */
  port?: number
}

export interface RunningRegistry extends Registry {
  /** Base URL, e.g. `http://127.0.0.1:7447`. */
  url: string
  /** Graceful shutdown; resolves once the store is closed. */
  close: () => Promise<void>
}

/** Parse `HOST:PORT` (or `[v6]:PORT`, or `:PORT`). */
export function parseListen (text: string): { host: string, port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]*)):([0-9]{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) throw invalidRequest(`'${text.slice(0, 80)}' is not HOST:PORT (e.g. 0.0.0.0:${DEFAULT_LISTEN_PORT})`)
  return { host: m[1] ?? (m[2] === '' ? DEFAULT_LISTEN_HOST : m[2]), port }
}

export async function startRegistryServer (init: ServerInit): Promise<RunningRegistry> {
  const registry = await buildRegistry(init)
  const { app } = registry
  try {
    await app.listen({ host: init.host ?? DEFAULT_LISTEN_HOST, port: init.port ?? DEFAULT_LISTEN_PORT })
  } catch (err) {
    await app.close()
    throw err
  }
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : init.port
  const host = init.host ?? DEFAULT_LISTEN_HOST
  const url = `http://${host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`
  let closing: Promise<void> | undefined
  const close = async (): Promise<void> => {
    closing ??= (async () => {
      const timer = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_TIMEOUT_MS)
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
  return { ...registry, url, close }
}
