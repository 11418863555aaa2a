/**
 * Run the registry on a TCP port. Only listening and shutting down live here (through
 * the shared server/ plumbing): on close the server stops accepting, lets in-flight
 * requests finish (up to a deadline), then closes the store.
 */
import { setFlagsFromString } from 'node:v8'
import { buildRegistry, type Registry, type RegistryInit } from './app.ts'
import { DEFAULT_LISTEN_HOST, DEFAULT_LISTEN_PORT, SERVING_SEMI_SPACE_MB, SHUTDOWN_TIMEOUT_MS } from './constants.ts'
import { listenGracefully, parseListen as parseHostPort } from '../server/index.ts'

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
  return parseHostPort(text, DEFAULT_LISTEN_HOST)
}

export async function startRegistryServer (init: ServerInit): Promise<RunningRegistry> {
  const registry = await buildRegistry(init)
  // The CLI starts every command with a small, fixed young generation (bin/rok.js), which
  // keeps loading the whole store from leaving ~100 MB more resident. Serving, though,
  // makes ~40 KB of short-lived objects per request: in 1 MB it scavenged every ~25
  // requests, a sixth of the CPU. From here on the young generation may grow again.
  setFlagsFromString('--semi-space-growth-factor=2')
  setFlagsFromString(`--max-semi-space-size=${SERVING_SEMI_SPACE_MB}`)
  try {
    const { url, close } = await listenGracefully(registry.app, init.host ?? DEFAULT_LISTEN_HOST, init.port ?? DEFAULT_LISTEN_PORT, SHUTDOWN_TIMEOUT_MS)
    return { ...registry, url, close }
  } catch (err) {
    await registry.app.close()
    throw err
  }
}
