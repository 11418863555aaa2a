/**
 * Registry benchmark (not part of `npm test`): 100,000 buckets across 1,000 groups, then
 * autocannon (a separate process, so it does not share the event loop) against search and
 * against a bare fastify route served by its own process, in the same run. The ratio of
 * the two is the figure; the targets are search p99 < 20 ms, search throughput at
 * least 25% of the bare route's, and registry memory under 500 MB.
 *
 * Each load also records the CPU time its server process used per request (from /proc):
 * unlike requests/s, that hardly depends on what else the machine is running, so the
 * bare route's CPU per request over search's estimates the ratio on a quiet machine.
 *
 * Besides the one fixed query kept for comparison with earlier runs, search load rotates
 * through a few hundred distinct seeded queries (single words, prefixes, two words, tags,
 * a word within a tag or a group), so the figure is search's, not one hot query's.
 *
 *   npx node --expose-gc bench/registry/run.ts [--buckets 100000] [--groups 1000] [--duration 10] [--connections 10]
 *       [--data DIR]     keep the populated store in DIR and reuse it on the next run (same sizes and seed)
 *       [--profile DIR]  write a V8 CPU profile of the registry process to DIR
 *       [--only TEXT]    run only the loads whose label contains TEXT (and the bare route)
 *       [--pin]          servers on CPU 1, the load generator on CPU 0 (taskset, from util-linux): on
 *                        two cores, keeps the client from taking turns with the server on one core
 *
 * Each load is preceded by one pass over its distinct requests, so the figures are of a
 * warm registry (sorted lists, merged prefix lists and access decisions made once).
 */
import { spawn, type ChildProcessByStdio, type SpawnOptionsWithStdioTuple } from 'node:child_process'
import type { Readable } from 'node:stream'
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { buildRegistry } from '../../registry/app.ts'
import type { LoadSpec } from './load.ts'
import { workload } from './workload.ts'

const { values } = parseArgs({
  options: {
    buckets: { type: 'string', default: '100000' },
    groups: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '10' },
    seed: { type: 'string', default: '42' },
    data: { type: 'string' },
    profile: { type: 'string' },
    only: { type: 'string' },
    pin: { type: 'boolean', default: false }
  }
})
const BUCKETS = Number(values.buckets)
const GROUPS = Number(values.groups)
const DURATION = Number(values.duration)
const CONNECTIONS = Number(values.connections)
const SEED = Number(values.seed)
const ADMIN = 'bench-admin-token-0123456789'
const MARKER = 'rok-bench.json'

const { pick, vocab: VOCAB, tags: TAGS, queries } = workload(SEED)

/** What a populated store is, so a kept one is reused only for the same run parameters. */
interface Populated { buckets: number, groups: number, seed: number, member: string, populateSeconds: number }

/** Owners, groups (the member in 50 of them) and buckets, created through the real routes. */
async function populate (dir: string): Promise<Populated> {
  const { app } = await buildRegistry({ dataDir: dir, adminToken: ADMIN, rateLimit: false })
  const inject = async (method: string, url: string, token: string, body?: unknown): Promise<any> => {
    const res = await app.inject({ method: method as any, url, headers: { authorization: `Bearer ${token}` }, payload: body as any })
    if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
    return res.json()
  }
  try {
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
    return { buckets: BUCKETS, groups: GROUPS, seed: SEED, member, populateSeconds: (performance.now() - t0) / 1000 }
  } finally {
    await app.close()
  }
}

/** The populated store in `dir`: reused when it was made with these parameters, else made now. */
async function populated (dir: string): Promise<Populated> {
  const marker = join(dir, MARKER)
  const kept = await readFile(marker, 'utf8').then(t => JSON.parse(t) as Populated, () => null)
  if (kept !== null && kept.buckets === BUCKETS && kept.groups === GROUPS && kept.seed === SEED) return kept
  await mkdir(dir, { recursive: true })
  if ((await readdir(dir)).length > 0) throw new Error(`${dir} is not empty and holds no store made with these parameters; give an empty or new folder`)
  const made = await populate(dir)
  await writeFile(marker, JSON.stringify(made) + '\n')
  return made
}

async function main (): Promise<void> {
  const dir = values.data !== undefined ? resolve(values.data) : await mkdtemp(join(tmpdir(), 'rok-registry-bench-'))
  try {
    const { member, populateSeconds } = await populated(dir)

    // The registry and the bare route each run in their own process, as in production.
    const profile = values.profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', resolve(values.profile)]
    const reg = await child([...profile, 'bin/rok.js', 'registry', 'start', '--data', dir, '--listen', '127.0.0.1:0', '--admin-token', ADMIN, '--log-level', 'warn', '--rate-limit', '0'], /registry listening on (\S+)/)
    const bare = await child(['bench/registry/bare-server.ts'], /listening (\d+)/)
    try {
      const rssAfterLoad = await residentBytes(reg.match)
      const rotating = queries(300, GROUPS).map(q => `/v1/search?${q}`)
      const runs: Array<[string, string, string[], string | undefined]> = [
        ['bare fastify route', `http://127.0.0.1:${bare.match}`, ['/bare'], undefined],
        ['registry `GET /v1/me` (all plugins, no search)', reg.match, ['/v1/me'], member],
        ['search `q=imagenet` (member, ~1% match)', reg.match, ['/v1/search?q=imagenet'], member],
        [`search rotating ${rotating.length} queries (member)`, reg.match, rotating, member],
        [`search rotating ${rotating.length} queries (anonymous)`, reg.match, rotating, undefined]
      ]
      const results = []
      for (const [label, origin, paths, token] of runs) {
        if (values.only !== undefined && label !== runs[0][0] && !label.includes(values.only)) continue
        for (const path of paths) {
          const res = await fetch(`${origin}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
          if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`)
          await res.arrayBuffer()
        }
        const server = origin === reg.match ? reg.pid : bare.pid
        const cpu0 = await cpuSeconds(server)
        const result = await load({ origin, paths, token, connections: CONNECTIONS, duration: DURATION })
        results.push({ label, ...result, cpuUs: (await cpuSeconds(server) - cpu0) * 1e6 / result.total })
      }
      const rssAfterBench = await residentBytes(reg.match)

      const bareRps = results[0].rps
      const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(0)} MB`
      console.log(`\nRegistry benchmark: ${BUCKETS} buckets, ${GROUPS} groups; populated through the API (inject) in ${populateSeconds.toFixed(1)} s`)
      console.log(`autocannon: ${CONNECTIONS} connections, ${DURATION} s per run; Node ${process.version}, ${(await import('node:os')).cpus().length} CPUs${values.pin ? '; servers on CPU 1, autocannon on CPU 0' : ''}; load average ${(await import('node:os')).loadavg()[0].toFixed(1)}\n`)
      const bareCpu = results[0].cpuUs
      console.log('| load | req/s | p50 ms | p99 ms | vs bare route | server CPU µs/req | bare CPU / this CPU |')
      console.log('|---|---:|---:|---:|---:|---:|---:|')
      for (const r of results) console.log(`| ${r.label} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(100 * r.rps / bareRps).toFixed(0)}% | ${r.cpuUs.toFixed(0)} | ${(100 * bareCpu / r.cpuUs).toFixed(0)}% |`)
      console.log(`\nregistry process RSS: ${mb(rssAfterLoad)} after starting on the populated store, ${mb(rssAfterBench)} after the load runs`)
      for (const r of results) if (r.errors > 0 || r.non2xx > 0) console.log(`WARNING ${r.label}: ${r.errors} errors, ${r.non2xx} non-2xx`)
    } finally {
      await reg.stop()
      await bare.stop()
    }
  } finally {
    if (values.data === undefined) await rm(dir, { recursive: true, force: true })
  }
}

const SERVER_CPU = '1'
const LOAD_CPU = '0'

/** Node with `args`, on `cpu` alone with --pin. taskset execs Node, so the pid is still Node's (for /proc). */
function spawnOn (cpu: string, args: string[], options: SpawnOptionsWithStdioTuple<'ignore', 'pipe', 'inherit'>): ChildProcessByStdio<null, Readable, null> {
  return values.pin ? spawn('taskset', ['-c', cpu, process.execPath, ...args], options) : spawn(process.execPath, args, options)
}

/** CPU time (user + system) a process has used, from /proc (Linux), in seconds. */
async function cpuSeconds (pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}
/** USER_HZ: /proc counts CPU time in these ticks per second on Linux. */
const CLOCK_TICKS = 100

async function child (args: string[], ready: RegExp): Promise<{ match: string, pid: number, stop: () => Promise<void> }> {
  const proc = spawnOn(SERVER_CPU, args, { cwd: join(import.meta.dirname, '../..'), stdio: ['ignore', 'pipe', 'inherit'] })
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
    pid: proc.pid!,
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

interface LoadResult { rps: number, total: number, p50: number, p99: number, errors: number, non2xx: number }

async function load (spec: LoadSpec): Promise<LoadResult> {
  const child = spawnOn(LOAD_CPU, [join(import.meta.dirname, 'load.ts'), JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`autocannon exited ${code}`)
  const j = JSON.parse(out)
  return { rps: j.requests.average, total: j.requests.total, p50: j.latency.p50, p99: j.latency.p99, errors: j.errors, non2xx: j.non2xx }
}

await main()
