/**
 * One autocannon load run, in its own process so the load generator never shares the
 * measured server's event loop. Each connection cycles through `paths` in order, so a
 * list of distinct queries measures search rather than one hot query.
 *
 *   node bench/registry/load.ts '{"origin":"http://127.0.0.1:7447","paths":["/v1/search?q=x"],"connections":10,"duration":10,"token":"..."}'
 *
 * Prints autocannon's result as JSON on stdout.
 */
import { createRequire } from 'node:module'

export interface LoadSpec {
  origin: string
  paths: string[]
  connections: number
  duration: number
  token?: string
}

const autocannon = createRequire(import.meta.url)('autocannon') as (opts: object) => Promise<object>

const spec = JSON.parse(process.argv[2]) as LoadSpec
const headers: Record<string, string> = spec.token === undefined ? {} : { authorization: `Bearer ${spec.token}` }
const result = await autocannon({
  url: spec.origin,
  connections: spec.connections,
  duration: spec.duration,
  headers,
  requests: spec.paths.map(path => ({ method: 'GET', path }))
})
process.stdout.write(JSON.stringify(result) + '\n')
