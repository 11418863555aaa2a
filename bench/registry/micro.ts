/**
 * Where a search's CPU time goes, in-process (no sockets; the main thread's CPU time, so
 * a busy machine and GC helper threads skew it less than wall time): the registry built on a
 * store kept by `run.ts --data DIR`, each kind of benchmark query asked many times through
 * `app.inject`, against `GET /v1/me` (every plugin, no search) as the floor.
 *
 *   npx node --expose-gc bench/registry/micro.ts --data DIR [--rounds 20]
 */
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildRegistry } from '../../registry/app.ts'
import { SearchAccess } from '../../registry/search-access.ts'
import { workload } from './workload.ts'

const { values } = parseArgs({ options: { data: { type: 'string' }, rounds: { type: 'string', default: '20' } } })
if (values.data === undefined) throw new Error('give --data DIR, a store kept by run.ts --data DIR')
const dir = resolve(values.data)
const kept = JSON.parse(await readFile(join(dir, 'rok-bench.json'), 'utf8')) as { groups: number, seed: number, member: string }
const ROUNDS = Number(values.rounds)
const ADMIN = 'bench-admin-token-0123456789'
/** µs of main-thread CPU per call of `fn` over `times` calls, after a full collection (so one kind does not pay for the garbage of the one before). */
async function cpuPer (times: number, fn: () => unknown): Promise<number> {
  if (globalThis.gc === undefined) throw new Error('run with --expose-gc')
  globalThis.gc()
  const t0 = process.threadCpuUsage()
  for (let i = 0; i < times; i++) await fn()
  const used = process.threadCpuUsage(t0)
  return (used.user + used.system) / times
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
    // At least 300 requests per figure: one URL asked 20 times says little.
    const timeOf = async (urls: string[]): Promise<number> => {
      let i = 0
      return await cpuPer(Math.max(ROUNDS * urls.length, 300), async () => await ask(urls[i++ % urls.length], token))
    }
    console.log(`\n${who}: µs of CPU per request, ${ROUNDS} rounds`)
    if (token !== undefined) {
      await timeOf(['/v1/me'])
      console.log(`  GET /v1/me            ${(await timeOf(['/v1/me'])).toFixed(1)}`)
    }
    console.log(`  all ${queries.length} rotating   ${(await timeOf(queries.map(q => `/v1/search?${q}`))).toFixed(1)}`)
    for (let k = 0; k < kinds.length; k++) {
      if (k === 1) continue
      const urls = queries.filter((_, i) => i % kinds.length === k || (k === 0 && i % kinds.length === 1)).map(q => `/v1/search?${q}`)
      console.log(`  ${kinds[k].padEnd(20)}  ${(await timeOf(urls)).toFixed(1)}`)
    }
  }
  // The text index alone, with the member's access decisions: what ranking a page costs
  // without HTTP or authentication. In a loop its data stays in cache, as a served search's does not.
  const reads = await new SearchAccess(state.acl, state.index).of({ user: 'member', admin: false, tokenHash: null })
  console.log(`\nindex only (member's access, page of 21): µs of CPU per search, ${ROUNDS * 10} rounds`)
  for (let k = 0; k < kinds.length; k++) {
    if (k === 1) continue
    const asked = queries.filter((_, i) => i % kinds.length === k || (k === 0 && i % kinds.length === 1)).map(q => {
      const p = new URLSearchParams(q)
      return { query: p.get('q') ?? '', group: p.get('group') ?? undefined, tag: p.get('tag') ?? undefined, ...reads, limit: 21 }
    })
    let i = 0
    console.log(`  ${kinds[k].padEnd(20)}  ${(await cpuPer(ROUNDS * 10 * asked.length, () => state.index.search(asked[i++ % asked.length]))).toFixed(1)}`)
  }
} finally {
  await app.close()
}
