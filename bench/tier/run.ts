/**
 * bench/tier: push and pull of one version to a local S3-compatible server (s3rver),
 * against a plain @aws-sdk/lib-storage upload and a plain GetObject download of the same
 * bytes as one object, in the same run and against the same server.
 *
 *   npx node bench/tier/run.ts [--runs 3] [--size-mib 1024] [--change 0.01] [--dir /work/rok-bench-tier]
 *
 * Measured per run: MB/s (10^6 bytes of the version per second of wall time) and HTTP
 * requests (counted by an SDK middleware: one per attempt), for
 *   plain upload   lib-storage Upload, default part size and queue (5 MiB, 4)
 *   plain download GetObject streamed to a file, fsynced
 *   tier push v1   `Tier.push` of a freshly snapshotted version (blocks already chunked)
 *   tier pull      `Tier.pull --data` into a brand-new home (catalog from the store,
 *                  manifest, every chunk into the local store, fsynced)
 *   tier push v2   after changing --change of the file in place and snapshotting again
 * Snapshots are not timed (bench/ingest measures them). Results: medians over runs as a
 * Markdown table, and JSON in bench/tier/results/.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { openEngine } from '../../node/engine.ts'
import { configureTier } from '../../node/tier/index.ts'
import { startS3Server, type S3Server } from '../../test/fixtures/s3-server.ts'
import { seededBytes } from '../../test/fixtures/seeded.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    change: { type: 'string', default: '0.01' },
    dir: { type: 'string', default: '/work/rok-bench-tier' }
  }
})
const runs = Number(values.runs)
const size = Number(values['size-mib']) * 1024 * 1024
const change = Number(values.change)
const root = values.dir!

interface Figures { seconds: number, requests: number, bytes: number }
interface RunResult { plainUp: Figures, plainDown: Figures, push1: Figures, pull: Figures, push2: Figures }

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2 }

async function writeData (file: string): Promise<void> {
  const fd = await open(file, 'w')
  const block = 64 * 1024 * 1024
  for (let at = 0, i = 0; at < size; at += block, i++) await fd.write(seededBytes(1000 + i, Math.min(block, size - at)), 0, Math.min(block, size - at), at)
  await fd.sync()
  await fd.close()
}

async function changeInPlace (file: string): Promise<void> {
  const n = Math.round(size * change)
  const fd = await open(file, 'r+')
  await fd.write(seededBytes(9999, n), 0, n, Math.floor(size / 2))
  await fd.sync()
  await fd.close()
}

function plainClient (s3: S3Server, count: () => void): S3Client {
  const client = new S3Client({
    endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED'
  })
  client.middlewareStack.add((next) => async (args) => { count(); return await next(args) }, { step: 'finalizeRequest', name: 'benchCount' })
  return client
}

async function timed<T> (fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now()
  const r = await fn()
  return [r, (performance.now() - t) / 1000]
}

async function oneRun (s3: S3Server, run: number, dataDir: string, file: string): Promise<RunResult> {
  const prefix = `bench-${Date.now()}-${run}`
  const work = join(root, `run-${run}`)
  await rm(work, { recursive: true, force: true })
  await mkdir(work, { recursive: true })

  // plain: one object up, then down
  let requests = 0
  const client = plainClient(s3, () => { requests++ })
  const [, upSeconds] = await timed(async () => {
    await new Upload({ client, params: { Bucket: s3.bucket, Key: `${prefix}/plain.bin`, Body: createReadStream(file) } }).done()
  })
  const plainUp = { seconds: upSeconds, requests, bytes: size }
  requests = 0
  const [, downSeconds] = await timed(async () => {
    const res = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/plain.bin` }))
    const out = join(work, 'plain.bin')
    const fd = await open(out, 'w')
    for await (const chunk of res.Body as AsyncIterable<Uint8Array>) await fd.write(chunk)
    await fd.sync()
    await fd.close()
    await rm(out)
  })
  const plainDown = { seconds: downSeconds, requests, bytes: size }
  client.destroy()

  // tier: push v1 from a snapshotted home
  let tierRequests = 0
  const hooks = { onRequest: () => { tierRequests++ } }
  const homeA = join(work, 'a')
  await (await openEngine({ home: homeA, create: true })).close()
  await configureTier(homeA, { endpoint: s3.endpoint, bucket: s3.bucket, prefix, pathStyle: true })
  const a = await openEngine({ home: homeA, tierHooks: hooks })
  await a.snapshot(dataDir, { bucket: 'bench/tier' })
  tierRequests = 0
  const [r1, push1Seconds] = await timed(async () => await a.tier!.push())
  const push1 = { seconds: push1Seconds, requests: tierRequests, bytes: r1.uploadedBytes }

  // tier: pull into a brand-new home
  const homeB = join(work, 'b')
  await (await openEngine({ home: homeB, create: true })).close()
  await configureTier(homeB, { endpoint: s3.endpoint, bucket: s3.bucket, prefix, pathStyle: true })
  const b = await openEngine({ home: homeB, tierHooks: hooks })
  tierRequests = 0
  const [p, pullSeconds] = await timed(async () => await b.tier!.pull('bench/tier', 1, { data: true }))
  const pull = { seconds: pullSeconds, requests: tierRequests, bytes: p.bytes }
  await b.close()

  // tier: v2 with a small change
  await changeInPlace(file)
  await a.snapshot(dataDir, { bucket: 'bench/tier' })
  tierRequests = 0
  const [r2, push2Seconds] = await timed(async () => await a.tier!.push())
  const push2 = { seconds: push2Seconds, requests: tierRequests, bytes: r2.uploadedBytes }
  await a.close()

  await rm(work, { recursive: true, force: true })
  await rm(join(s3.directory, s3.bucket, prefix), { recursive: true, force: true })
  return { plainUp, plainDown, push1, pull, push2 }
}

await rm(root, { recursive: true, force: true })
await mkdir(join(root, 's3'), { recursive: true })
const s3 = await startS3Server({ directory: join(root, 's3'), buckets: ['bench'] })
// the tier finds the server's keys through the SDK's standard chain, as a node would
Object.assign(process.env, s3.env)
const results: RunResult[] = []
try {
  for (let run = 1; run <= runs; run++) {
    const dataDir = join(root, 'data')
    const file = join(dataDir, 'volume.bin')
    await rm(dataDir, { recursive: true, force: true })
    await mkdir(dataDir, { recursive: true })
    await writeData(file)
    const r = await oneRun(s3, run, dataDir, file)
    results.push(r)
    const mbs = (f: Figures): string => (size / 1e6 / f.seconds).toFixed(0)
    process.stderr.write(`run ${run}: plain up ${mbs(r.plainUp)} MB/s ${r.plainUp.requests} req; push ${mbs(r.push1)} MB/s ${r.push1.requests} req; plain down ${mbs(r.plainDown)} MB/s; pull ${mbs(r.pull)} MB/s ${r.pull.requests} req; v2 push ${r.push2.bytes} B ${r.push2.requests} req\n`)
  }
} finally {
  await s3.stop()
  await rm(root, { recursive: true, force: true })
}

const gib = size / 1024 ** 3
const m = (pick: (r: RunResult) => number): number => median(results.map(pick))
const mbps = (pick: (r: RunResult) => Figures): number => m(r => size / 1e6 / pick(r).seconds)
const perGib = (pick: (r: RunResult) => Figures): number => m(r => pick(r).requests / gib)
const rows = [
  ['plain upload (lib-storage, one object)', mbps(r => r.plainUp), perGib(r => r.plainUp), ''],
  ['tier push v1', mbps(r => r.push1), perGib(r => r.push1), `${(100 * m(r => r.push1.seconds === 0 ? 0 : (size / r.push1.seconds) / (size / r.plainUp.seconds))).toFixed(0)}% of plain upload`],
  ['plain download (GetObject, one object)', mbps(r => r.plainDown), perGib(r => r.plainDown), ''],
  ['tier pull --data (fresh home)', mbps(r => r.pull), perGib(r => r.pull), `${(100 * m(r => (size / r.pull.seconds) / (size / r.plainDown.seconds))).toFixed(0)}% of plain download`],
  ['tier push v2 (' + (change * 100).toFixed(1) + '% changed)', NaN, m(r => r.push2.requests), `${(100 * m(r => r.push2.bytes / r.push1.bytes)).toFixed(2)}% of v1's bytes, ${(100 * m(r => r.push2.requests / r.push1.requests)).toFixed(1)}% of its requests`]
]
const table = [
  `Medians of ${runs} runs, ${values['size-mib']} MiB version, s3rver on 127.0.0.1`,
  '',
  '| phase | MB/s | requests per GiB | notes |',
  '|---|---:|---:|---|',
  ...rows.map(([name, speed, req, note]) => `| ${name} | ${Number.isNaN(speed) ? '—' : (speed as number).toFixed(0)} | ${(req as number).toFixed(0)}${name.toString().startsWith('tier push v2') ? ' (total)' : ''} | ${note} |`)
].join('\n')
process.stdout.write(table + '\n')
const outDir = fileURLToPath(new URL('./results/', import.meta.url))
await mkdir(outDir, { recursive: true })
await writeFile(join(outDir, `tier-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ runs, size, change, results }, null, 2) + '\n')
