/**
 * Registry benchmark (not part of `npm test`): 100,000 buckets across 1,000 groups, then
 * autocannon (a separate process, so it does not share the event loop) against search and
 * against a bare fastify route served by the same process, in the same run. The ratio of
 * the two is the figure; the targets are search p99 < 20 ms, search throughput at
 * least 25% of the bare route's, and registry memory under 500 MB.
 *
 *   npx node bench/registry/run.ts [--buckets 100000] [--groups 1000] [--duration 10] [--connections 10]
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildRegistry } from '../../registry/app.ts'

const { values } = parseArgs({
  options: {
    buckets: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    seed: { type: 'string', default: '42' }
  }
})
const BUCKETS = Number(values.buckets)
const GROUPS = Number(values.groups)
const DURATION = Number(values.duration)
const CONNECTIONS = Number(values.connections)
const ADMIN = 'bench-admin-token-0123456789'

// Seeded PRNG (mulberry32) so every run indexes the same words.
let s = Number(values.seed) >>> 0
function rand (): number {
  s = (s + 0x6D2B79F5) >>> 0
  let t = s
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = <T>(list: T[]): T => list[Math.floor(rand() * list.length)]
const syllables = ['ka', 'lo', 'mi', 'ner', 'to', 'vas', 'ri', 'quon', 'del', 'sa', 'bu', 'zen', 'fi', 'pra', 'gol', 'ux']
const VOCAB = Array.from({ length: 3000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(syllables)).join(''))
const TAGS = Array.from({ length: 60 }, (_, i) => `${pick(VOCAB).slice(0, 12)}${i}`)

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'rok-registry-bench-'))
  // Populate in this process through the routes (inject), then close and serve the store
  // from a separate registry process.
  const loading = await buildRegistry({ dataDir: dir, adminToken: ADMIN, rateLimit: false })
  const { app } = loading
  let closed = false
  const inject = async (method: string, url: string, token: string, body?: unknown): Promise<any> => {
    const res = await app.inject({ method: method as any, url, headers: { authorization: `Bearer ${token}` }, payload: body as any })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  try {
    // --- populate through the real routes ---------------------------------------------
    const t0 = performance.now()
    const owners: string[] = []
    for (let i = 0; i < 10; i++) owners.push((await inject('POST', '/v1/users', ADMIN, { name: `owner${i}` })).token)
    const member = (await inject('POST', '/v1/users', ADMIN, { name: 'member' })).token
    for (let g = 0; g < GROUPS; g++) {
      const owner = owners[g % owners.length]
      await inject('POST', '/v1/groups', owner, { name: `group${g}`, visibility: g % 2 === 0 ? 'public' : 'private', description: `${pick(VOCAB)} ${pick(VOCAB)}` })
      // The member belongs to 50 groups, public and private.
      if (g % 20 === 0) await inject('PUT', `/v1/groups/group${g}/members/member`, owner, { role: 'reader' })
    }
    for (let b = 0; b < BUCKETS; b++) {
      const g = b % GROUPS
      const topic = b % 100 === 0 ? 'imagenet' : pick(VOCAB)
      await inject('POST', `/v1/groups/group${g}/buckets`, owners[g % owners.length], {
        name: `${topic}-${pick(VOCAB)}-${b}`,
        description: Array.from({ length: 8 }, () => pick(VOCAB)).join(' '),
        tags: [...new Set([pick(TAGS), pick(TAGS)])]
      })
    }
    const populateSeconds = (performance.now() - t0) / 1000
    await loading.app.close()
    closed = true

    // The registry and the bare route each run in their own process, as in production.
    const reg = await child(['bin/rok.js', 'registry', 'start', '--data', dir, '--listen', '127.0.0.1:0', '--admin-token', ADMIN, '--log-level', 'warn', '--rate-limit', '0'], /registry listening on (\S+)/)
    const bare = await child(['bench/registry/bare-server.ts'], /listening (\d+)/)
    try {
      const rssAfterLoad = await residentBytes(reg.match)
      const commonTag = TAGS[0]
      const runs: Array<[string, string, string | undefined]> = [
        ['bare fastify route', `http://127.0.0.1:${bare.match}/bare`, undefined],
        ['registry GET /v1/me (all plugins, no search)', `${reg.match}/v1/me`, member],
        ['search "imagenet" (member, ~1% match)', `${reg.match}/v1/search?q=imagenet`, member],
        [`search tag=${commonTag} (member)`, `${reg.match}/v1/search?tag=${commonTag}`, member],
        ['search "imagenet" (anonymous)', `${reg.match}/v1/search?q=imagenet`, undefined]
      ]
      const results = []
      for (const [label, url, token] of runs) results.push({ label, ...await autocannon(url, token) })
      const rssAfterBench = await residentBytes(reg.match)

      const bareRps = results[0].rps
      const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`
      console.log(`\nRegistry benchmark: ${BUCKETS} buckets, ${GROUPS} groups; populated through the API (inject) in ${populateSeconds.toFixed(1)} s`)
      console.log(`autocannon: ${CONNECTIONS} connections, ${DURATION} s per run; Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs\n`)
      console.log('| load | req/s | p50 ms | p99 ms | vs bare route |')
      console.log('|---|---:|---:|---:|---:|')
      for (const r of results) console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(100 * r.rps / bareRps).toFixed(0)}% |`)
      console.log(`\nregistry process RSS: ${mb(rssAfterLoad)} after starting on the populated store, ${mb(rssAfterBench)} after the load runs`)
      for (const r of results) if (r.errors > 0 || r.non2xx > 0) console.log(`WARNING ${r.label}: ${r.errors} errors, ${r.non2xx} non-2xx`)
    } finally {
      await reg.stop()
      await bare.stop()
    }
  } finally {
    if (!closed) await loading.app.close()
    await rm(dir, { recursive: true, force: true })
  }
}

async function child (args: string[], ready: RegExp): Promise<{ match: string, stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, args, { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] })
  const match = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const m = ready.exec(out)
      if (m !== null) resolve(m[1])
    })
    proc.on('exit', code => reject(new Error(`${args.join(' ')} exited ${code}: ${out}`)))
  })
  return {
    match,
    stop: async () => {
      const exited = new Promise(resolve => proc.on('exit', resolve))
      proc.kill('SIGTERM')
      await exited
    }
  }
}

/** The registry's own resident set, from its Prometheus metrics. */
async function residentBytes (url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  const m = /^rok_registry_process_resident_memory_bytes (\d+)/m.exec(text)
  if (m === null) throw new Error('no resident memory metric')
  return Number(m[1])
}

interface LoadResult { rps: number, p50: number, p99: number, errors: number, non2xx: number }

async function autocannon (url: string, token: string | undefined): Promise<LoadResult> {
  const args = [join(import.meta.dirname, '../../node_modules/autocannon/autocannon.js'), '-c', String(CONNECTIONS), '-d', String(DURATION), '--json']
  if (token !== undefined) args.push('-H', `authorization=Bearer ${token}`)
  args.push(url)
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`autocannon exited ${code}`)
  const j = JSON.parse(out)
  return { rps: j.requests.average, p50: j.latency.p50, p99: j.latency.p99, errors: j.errors, non2xx: j.non2xx }
}

await main()
