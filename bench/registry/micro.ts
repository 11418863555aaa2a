/**
 * Where a search's CPU time goes, in-process (no sockets; CPU time, so a busy machine
 * skews it less than wall time): the registry built on a
 * store kept by `run.ts --data DIR`, each kind of benchmark query asked many times through
 * `app.inject`, against `GET /v1/me` (every plugin, no search) as the floor.
 *
 *   npx node --expose-gc bench/registry/micro.ts --data DIR [--rounds 20]
 */
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildRegistry } from '../../registry/app.ts'
import { workload } from './workload.ts'

const { values } = parseArgs({ options: { data: { type: 'string' }, rounds: { type: 'string', default: '20' } } })
if (values.data === undefined) throw new Error('give --data DIR, a store kept by run.ts --data DIR')
const dir = resolve(values.data)
const kept = JSON.parse(await readFile(join(dir, 'rok-bench.json'), 'utf8')) as { groups: number, seed: number, member: string }
const ROUNDS = Number(values.rounds)
const ADMIN = 'bench-admin-token-0123456789'
/** A full collection before each timing, so one kind does not pay for the garbage of the one before. */
const collectGarbage = (): void => {
  if (globalThis.gc === undefined) throw new Error('run with --expose-gc')
  globalThis.gc()
}

const { app, state } = await buildRegistry({ dataDir: dir, adminToken: ADMIN, rateLimit: false })
try {
  const queries = workload(kept.seed).queries(300, kept.groups)
  const kinds = ['word', 'word', 'imagenet', 'prefix', 'two words', 'word + prefix', 'tag', 'word + tag', 'word + group', 'group']
  const ask = async (url: string, token: string | undefined): Promise<void> => {
    const res = await app.inject({ method: 'GET', url, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
    if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body}`)
  }
  for (const [who, token] of [['member', kept.member], ['anonymous', undefined]] as const) {
    // Warm up: JIT, and the ACL's memo for every group this caller meets.
    for (const q of queries) await ask(`/v1/search?${q}`, token)
    const timeOf = async (urls: string[]): Promise<number> => {
      collectGarbage()
      const t0 = process.cpuUsage()
      for (let r = 0; r < ROUNDS; r++) for (const url of urls) await ask(url, token)
      const used = process.cpuUsage(t0)
      return (used.user + used.system) / (ROUNDS * urls.length)
    }
    console.log(`\n${who}: µs of CPU per request, ${ROUNDS} rounds`)
    if (token !== undefined) console.log(`  GET /v1/me            ${(await timeOf(['/v1/me'])).toFixed(1)}`)
    console.log(`  all ${queries.length} rotating   ${(await timeOf(queries.map(q => `/v1/search?${q}`))).toFixed(1)}`)
    for (let k = 0; k < kinds.length; k++) {
      if (k === 1) continue
      const urls = queries.filter((_, i) => i % kinds.length === k || (k === 0 && i % kinds.length === 1)).map(q => `/v1/search?${q}`)
      console.log(`  ${kinds[k].padEnd(20)}  ${(await timeOf(urls)).toFixed(1)}`)
    }
  }
  // The text index alone: what ranking a page costs without HTTP, auth or access checks.
  console.log(`\nindex only (accept all, page of 37): µs of CPU per search, ${ROUNDS * 10} rounds`)
  for (let k = 0; k < kinds.length; k++) {
    if (k === 1) continue
    const asked = queries.filter((_, i) => i % kinds.length === k || (k === 0 && i % kinds.length === 1)).map(q => {
      const p = new URLSearchParams(q)
      return { query: p.get('q') ?? '', group: p.get('group') ?? undefined, tag: p.get('tag') ?? undefined, accept: () => true, limit: 37 }
    })
    collectGarbage()
    const t0 = process.cpuUsage()
    for (let r = 0; r < ROUNDS * 10; r++) for (const o of asked) state.index.search(o)
    const used = process.cpuUsage(t0)
    console.log(`  ${kinds[k].padEnd(20)}  ${((used.user + used.system) / (ROUNDS * 10 * asked.length)).toFixed(1)}`)
  }
} finally {
  await app.close()
}
