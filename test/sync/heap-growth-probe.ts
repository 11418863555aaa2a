/**
 * Loaded with `--import` into a `rok node start` process by daemon-memory.test.ts. Once the
 * daemon runs, it holds ~30 MB of objects, collects (so V8 sizes its next collection from
 * what is live), then makes ~450 MB of garbage that lives just long enough to reach the old
 * generation, as a sync's per-chunk objects do; and writes to $ROK_HEAP_PROBE_OUT what was
 * live and the largest heap V8 let that garbage grow to before collecting it.
 */
import { writeFileSync } from 'node:fs'
import v8 from 'node:v8'
import { constants, PerformanceObserver } from 'node:perf_hooks'

const out = process.env.ROK_HEAP_PROBE_OUT
const gc = (globalThis as { gc?: () => void }).gc
// the launcher may re-execute itself first: the timer only fires in the daemon that stays
if (out !== undefined && gc !== undefined && process.argv.includes('node') && process.argv.includes('start')) {
  setTimeout(async () => {
    const held = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `held-${i}` }))
    gc()
    const liveBytes = v8.getHeapStatistics().used_heap_size
    let peakBytes = 0
    let full = 0
    const gcs = new PerformanceObserver(list => { for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail?: { kind: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++ })
    gcs.observe({ entryTypes: ['gc'] })
    const recent: unknown[][] = []
    for (let round = 0; round < 1500; round++) {
      recent.push(Array.from({ length: 4000 }, (_, i) => ({ round, i, s: `garbage-${i}` })))
      // each group lives through ~7 MB of allocation: longer than a young-generation cycle
      if (recent.length > 24) recent.shift()
      peakBytes = Math.max(peakBytes, v8.getHeapStatistics().used_heap_size)
      // as a daemon does between chunks: V8's collector does its marking steps in such gaps
      await new Promise(resolve => setImmediate(resolve))
    }
    await new Promise(resolve => setImmediate(resolve))
    gcs.disconnect()
    writeFileSync(out, JSON.stringify({ liveMB: liveBytes / 2 ** 20, peakMB: peakBytes / 2 ** 20, fullCollections: full, held: held.length }))
  }, 1500)
}
