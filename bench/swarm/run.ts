/**
 * bench/swarm: one publisher to 1, 4 and 8 subscribers, the publisher's uploads capped
 * (`rok node start --max-upload-rate`), every node a real `rok node start` on loopback.
 * For each count, fresh nodes: the publisher publishes a version of generated files, all
 * subscribers subscribe at once (each allowing the others, so they may serve each other)
 * and sync it. Reports the slowest subscriber's sync time against one subscriber's, and
 * what the publisher uploaded as a multiple of the version's size (issue 3's targets:
 * eight subscribers under 3 × one subscriber's time, the publisher at most 3 × the size).
 *
 *   npx node bench/swarm/run.ts [--mib 64] [--cap 20MB/s] [--counts 1,4,8]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { tempDir } from '../../test/fixtures/seeded.ts'
import { initHome, startDaemon, waitFor, writeDataset, type Daemon } from '../../test/sync/daemons.ts'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '64' },
    cap: { type: 'string', default: '20MB/s' },
    counts: { type: 'string', default: '1,4,8' }
  }
})
const MiB = 1024 * 1024
const FILE_SIZE = MiB
const files = Math.max(1, Math.round(Number(values.mib)))
const counts = values.counts.split(',').map(Number)
if (counts.some(n => !Number.isInteger(n) || n < 1)) throw new Error('--counts takes positive integers, e.g. 1,4,8')
const BUCKET = 'bench/swarm'

interface Round { subscribers: number, slowest: number, fastest: number, uploaded: number, size: number, fromFellows: number }

async function round (subscribers: number): Promise<Round> {
  const [dir, cleanup] = await tempDir('rok-bench-swarm-')
  const daemons: Daemon[] = []
  try {
    const src = join(dir, 'src')
    await writeDataset(src, 21, files, FILE_SIZE)
    const homes = Array.from({ length: subscribers + 1 }, (_, i) => join(dir, `n${i}`))
    await Promise.all(homes.map(initHome))
    const publisher = await startDaemon(homes[0], ['--no-registry', '--max-upload-rate', values.cap])
    daemons.push(publisher)
    const subs = await Promise.all(homes.slice(1).map(async h => await startDaemon(h, ['--no-registry', '--bootstrap', publisher.addr])))
    daemons.push(...subs)
    for (const s of subs) await publisher.api.allow({ bucket: BUCKET, peer: s.peerId })
    for (const s of subs) for (const f of subs) if (f !== s) await s.api.allow({ bucket: BUCKET, peer: f.peerId })
    const published = await publisher.api.publish({ bucket: BUCKET, path: src, message: 'v1' })
    const before = (await publisher.api.syncStatus()).served.bytes
    await Promise.all(subs.map(async s => await s.api.subscribe({ bucket: BUCKET, peer: publisher.addr })))
    const reports = await Promise.all(subs.map(async s => await waitFor(`${s.home} synced`, async () => {
      const sub = (await s.api.syncStatus()).subscriptions.find(x => x.bucket === BUCKET)
      return sub?.localHead === 1 && sub.last?.toSeq === 1 ? sub.last : undefined
    }, 600_000)))
    const uploaded = (await publisher.api.syncStatus()).served.bytes - before
    const fromFellows = reports.reduce((n, r) => n + r.peers.filter(p => p.peer !== publisher.peerId).reduce((m, p) => m + p.bytes, 0), 0)
    return {
      subscribers,
      slowest: Math.max(...reports.map(r => r.seconds)),
      fastest: Math.min(...reports.map(r => r.seconds)),
      uploaded,
      size: published.size,
      fromFellows
    }
  } finally {
    await Promise.all(daemons.map(async d => { await d.kill() }))
    await cleanup()
  }
}

const results: Round[] = []
for (const n of counts) {
  const r = await round(n)
  results.push(r)
  const one = results.find(x => x.subscribers === 1) ?? r
  console.log(`${n} subscriber${n === 1 ? '' : 's'}: slowest ${r.slowest.toFixed(1)} s (${(r.slowest / one.slowest).toFixed(2)} × one), fastest ${r.fastest.toFixed(1)} s; ` +
    `publisher uploaded ${(r.uploaded / MiB).toFixed(1)} MiB = ${(r.uploaded / r.size).toFixed(2)} × the version (${(r.size / MiB).toFixed(0)} MiB); ` +
    `subscribers served each other ${(r.fromFellows / MiB).toFixed(1)} MiB`)
}
console.log(`\n| subscribers | slowest sync | × one subscriber | publisher upload / version size |\n| --- | --- | --- | --- |`)
const one = results.find(x => x.subscribers === 1)
for (const r of results) console.log(`| ${r.subscribers} | ${r.slowest.toFixed(1)} s | ${one === undefined ? '—' : (r.slowest / one.slowest).toFixed(2)} | ${(r.uploaded / r.size).toFixed(2)} |`)
