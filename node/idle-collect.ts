/**
 * One full collection once a node daemon goes quiet after work that grew its heap. Why: V8
 * collects when allocation calls for it, and an idle daemon allocates next to nothing, so
 * what its last piece of work left stays resident until the next one. After a 1 GiB publish
 * a daemon sat at 184 MB RSS for as long as it was left alone (a forced collection: 146 MB;
 * a daemon that published nothing: 138 MB), and the sync that followed started from there:
 * at 4 GiB the publishing node began serving at 200 MB and peaked at 282-296 MB, against a
 * 300 MB target. Collecting also as a snapshot or publish ends: 165 MB and 274-278 MB
 * (docs/PERFORMANCE.md, session 10).
 */
import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'

export interface IdleCollectorInit {
  /** A full, synchronous collection that hands memory back (V8's `gc` when the process was started with --expose-gc). */
  collect: () => void
  /** How often the daemon looks. @default 5000 */
  intervalMs?: number
  /** The event loop busy less than this share of an interval counts as quiet. @default 0.02 */
  quietUtilization?: number
  /** Heap and external memory grown by at least this since the last collection: worth one. @default 8 MiB */
  minGrowthBytes?: number
  /** Bytes held now. @default V8's used heap plus its external memory */
  heldBytes?: () => number
}

export interface IdleCollector {
  /** Collections run so far (a metric). */
  readonly collections: number
  /**
   * A long piece of work (a snapshot, a publish) just ended: collect now if the heap grew,
   * without waiting to look. A peer often starts syncing the moment a publish ends, before
   * the daemon is ever quiet: the sending node then served 4 GiB from ~200 MB instead of ~165.
   */
  afterWork: () => void
  stop: () => void
}

export function startIdleCollector (init: IdleCollectorInit): IdleCollector {
  const intervalMs = init.intervalMs ?? 5000
  const quiet = init.quietUtilization ?? 0.02
  const minGrowth = init.minGrowthBytes ?? 8 * 1024 * 1024
  const held = init.heldBytes ?? ((): number => { const h = getHeapStatistics(); return h.used_heap_size + h.external_memory })
  let baseline = held()
  let last = performance.eventLoopUtilization()
  let collections = 0
  /** Collects when the heap grew enough; `busy`: the share of the last look the loop worked. */
  const consider = (busy: number): void => {
    const size = held()
    // what is held after a collection is the new floor: without work, nothing grows past it
    if (size < baseline) baseline = size
    if (busy >= quiet || size - baseline < minGrowth) return
    init.collect()
    collections++
    baseline = held()
    last = performance.eventLoopUtilization()
  }
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(now, last).utilization
    last = now
    consider(busy)
  }, intervalMs)
  timer.unref()
  return {
    get collections () { return collections },
    afterWork: () => { consider(0) },
    stop: () => { clearInterval(timer) }
  }
}
