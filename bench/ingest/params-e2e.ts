/**
 * End-to-end cost of a chunker setting in the real engine: snapshots the bench/ingest
 * image v1 then v2 into a fresh Rok disk store with the given parameters (the CLI has no
 * flag for them, so this drives `snapshotVolume` in-process), cold cache, and reports
 * wall and CPU time per GB, chunks, new bytes and store growth. One process per setting
 * (`--one` is the child), so memory and JIT state do not carry over.
 *
 *   npx node bench/ingest/params-e2e.ts [--settings 64/2,32/2,16/1] [--runs 2] [--dir /work/rok-bench-ingest]
 *
 * A setting is avgKiB/normalization, with min = avg/4 and max = avg×4.
 */
import { execFileSync } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { openEngine } from '../../node/engine.ts'
import { snapshotVolume } from '../../node/snapshot/index.ts'
import type { DataSet } from './data.ts'
import { dropCaches, duBytes, median } from './measure.ts'

const { values } = parseArgs({
  options: {
    settings: { type: 'string', default: '64/2,32/2,16/1' },
    runs: { type: 'string', default: '2' },
    dir: { type: 'string', default: '/work/rok-bench-ingest' },
    data: { type: 'string', default: 'data-1024m-20000f-rok-bench-1' },
    one: { type: 'string' }
  }
})

interface One { setting: string, seconds: [number, number], cpu: [number, number], chunks: [number, number], newBytes: number, added: number }

async function one (setting: string): Promise<One> {
  const [avgKiB, normalization] = setting.split('/').map(Number)
  const avgSize = avgKiB * 1024
  const params = { minSize: avgSize / 4, avgSize, maxSize: avgSize * 4, normalization }
  const ds = JSON.parse(await readFile(join(values.dir, values.data, 'dataset.json'), 'utf8')) as DataSet
  const home = join(values.dir, `params-e2e-${avgKiB}-${normalization}`)
  await rm(home, { recursive: true, force: true })
  const engine = await openEngine({ home, create: true })
  const out: One = { setting, seconds: [0, 0], cpu: [0, 0], chunks: [0, 0], newBytes: 0, added: 0 }
  let before = 0
  try {
    for (const [i, path] of [ds.image.v1, ds.image.v2].entries()) {
      dropCaches()
      if (i === 1) before = duBytes(home)
      const t = performance.now()
      const c = process.cpuUsage()
      const r = await snapshotVolume(path, { store: engine.store, params })
      await engine.store.flush()
      const d = process.cpuUsage(c)
      out.seconds[i] = (performance.now() - t) / 1000
      out.cpu[i] = (d.user + d.system) / 1e6
      out.chunks[i] = r.stats.chunks
      if (i === 1) out.newBytes = r.stats.newBytes
    }
  } finally {
    await engine.close()
  }
  out.added = duBytes(home) - before
  await rm(home, { recursive: true, force: true })
  return out
}

if (values.one !== undefined) {
  process.stdout.write(JSON.stringify(await one(values.one)))
} else {
  const self = fileURLToPath(import.meta.url)
  const node = process.execPath
  const rows: string[] = ['| setting | chunks v1 | v1 wall MB/s | v1 CPU s/GB | v2 wall MB/s | v2 CPU s/GB | v2 new bytes (MB) | store growth v2, du (MB) |', '|---|---:|---:|---:|---:|---:|---:|---:|']
  for (const setting of values.settings.split(',')) {
    const results: One[] = []
    for (let r = 0; r < Number(values.runs); r++) {
      results.push(JSON.parse(execFileSync(node, [self, '--one', setting, '--dir', values.dir, '--data', values.data], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as One)
    }
    const m = (f: (o: One) => number): number => median(results.map(f))
    const gb = 1073741824 / 1e9
    rows.push(`| ${setting} | ${results[0].chunks[0]} | ${m(o => gb * 1000 / o.seconds[0]).toFixed(0)} | ${m(o => o.cpu[0] / gb).toFixed(2)} | ${m(o => gb * 1000 / o.seconds[1]).toFixed(0)} | ${m(o => o.cpu[1] / gb).toFixed(2)} | ${(results[0].newBytes / 1e6).toFixed(1)} | ${(m(o => o.added) / 1e6).toFixed(1)} |`)
    process.stderr.write(rows[rows.length - 1] + '\n')
  }
  process.stdout.write(rows.join('\n') + '\n')
}
