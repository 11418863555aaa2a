/**
 * A soft memory limit for the long-running node, in the spirit of Go's GOMEMLIMIT.
 *
 * A sync or a snapshot leaves most of its garbage (decoded manifest nodes, batch lists)
 * in V8's old generation, which V8 collects only when the heap has grown well past its
 * last size: a node moving a 4 GiB volume sat at 300–450 MB of resident memory of which
 * live data was ~75 MB. Capping the heap with V8 flags bounds it but makes every
 * allocation-heavy phase collect far more often (60–75% more CPU, measured). Instead,
 * while the process is above the limit and V8's heap has grown by `growthBytes` since the
 * last full collection, run one, at most every `intervalMs`: a few tens of milliseconds
 * per second of heavy work, nothing when idle, below the limit, or when what holds the
 * memory is not V8's garbage (a collection then would free nothing).
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

export interface MemoryLimitInit {
  /** Resident memory (bytes) above which full collections run. */
  limitBytes: number
  /** How often resident memory is checked, and the least time between two collections. @default 1000 */
  intervalMs?: number
  /** Growth of V8's heap since the last full collection that makes another worth it. @default 32 MiB */
  growthBytes?: number
  /** @default process.memoryUsage.rss */
  rss?: () => number
  /** @default V8's used heap size */
  heapUsed?: () => number
}

export interface MemoryLimit {
  /** Full collections run so far. */
  readonly collections: number
  stop: () => void
}

export function startMemoryLimit (init: MemoryLimitInit): MemoryLimit {
  const rss = init.rss ?? (() => process.memoryUsage.rss())
  const heapUsed = init.heapUsed ?? (() => getHeapStatistics().used_heap_size)
  const growth = init.growthBytes ?? 32 * 1024 * 1024
  const collect = fullCollection()
  let collections = 0
  let afterLast = 0
  const timer = setInterval(() => {
    if (rss() <= init.limitBytes || heapUsed() - afterLast < growth) return
    collect()
    collections++
    afterLast = heapUsed()
  }, init.intervalMs ?? 1000)
  timer.unref()
  return {
    get collections () { return collections },
    stop: () => { clearInterval(timer) }
  }
}

/**
 * V8's full, compacting collection. `gc` exists only with --expose-gc; set at run time the
 * flag reaches new contexts, so one is made to fetch it.
 */
function fullCollection (): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (exposed !== undefined) return exposed
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}
