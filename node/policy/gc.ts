/**
 * Local garbage collection: drop blocks no version references, delete packs with nothing
 * live, and rewrite packs that are mostly garbage. Crash-safe at every step: index
 * deletions are one atomic batch; a rewritten pack's copies are durable and indexed before
 * the old pack is removed; a pack is only deleted when no index entry points into it.
 */
import { CID } from '../../protocol/cid.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import type { Buckets } from '../buckets/index.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { DiskBlockStore, StoredBlock } from '../store/index.ts'

export interface GcReport {
  dryRun: boolean
  liveBlocks: number
  liveBytes: number
  deadBlocks: number
  deadBytes: number
  packsRemoved: number
  packsRewritten: number
  /** Bytes on disk in packs before and after (equal on a dry run). */
  packBytesBefore: number
  packBytesAfter: number
}

export interface GcOptions {
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all'>
  dryRun?: boolean
  /** Rewrite a pack when less than this fraction of its bytes is live. @default 0.5 */
  rewriteBelow?: number
  signal?: AbortSignal
}

interface PackUsage {
  live: StoredBlock[]
  liveBytes: number
}

export async function collectGarbage (options: GcOptions): Promise<GcReport> {
  const { store, signal } = options
  const dryRun = options.dryRun === true
  const rewriteBelow = options.rewriteBelow ?? 0.5
  const live = await markLive(store, options.buckets, signal)

  const usage = new Map<number, PackUsage>()
  const dead: CID[] = []
  let deadBytes = 0
  let liveBytes = 0
  for await (const block of store.blocks()) {
    signal?.throwIfAborted()
    if (live.has(block.cid.toString())) {
      const u = usage.get(block.location.pack) ?? { live: [], liveBytes: 0 }
      u.live.push(block)
      u.liveBytes += block.location.length
      usage.set(block.location.pack, u)
      liveBytes += block.location.length
    } else {
      dead.push(block.cid)
      deadBytes += block.location.length
    }
  }

  const active = store.activePackId()
  const packs = (await store.packIds()).filter(id => id !== active)
  const sizes = new Map<number, number>()
  for (const id of packs) sizes.set(id, await store.packSize(id))
  const packBytesBefore = [...sizes.values()].reduce((a, b) => a + b, 0)
  const empty = packs.filter(id => usage.get(id) === undefined)
  const sparse = packs.filter(id => {
    const u = usage.get(id)
    return u !== undefined && u.liveBytes < rewriteBelow * sizes.get(id)!
  })

  let packBytesAfter = packBytesBefore
  if (!dryRun) {
    await store.deleteIndexEntries(dead)
    for (const id of sparse) {
      signal?.throwIfAborted()
      await store.moveBlocks(usage.get(id)!.live)
    }
    for (const id of [...empty, ...sparse]) await store.removePack(id)
    await store.flush()
    packBytesAfter = 0
    for (const id of await store.packIds()) packBytesAfter += await store.packSize(id)
  }
  return {
    dryRun,
    liveBlocks: live.size,
    liveBytes,
    deadBlocks: dead.length,
    deadBytes,
    packsRemoved: empty.length,
    packsRewritten: sparse.length,
    packBytesBefore,
    packBytesAfter
  }
}

/** Every block reachable from a version record: records, manifest nodes and chunks. */
export async function markLive (store: Pick<DiskBlockStore, 'get'>, buckets: Pick<Buckets, 'all'>, signal?: AbortSignal): Promise<Set<string>> {
  const live = new Set<string>()
  const get = async (cid: CID): Promise<Uint8Array> => await store.get(cid, { signal })
  for await (const v of buckets.all()) {
    live.add(v.cid.toString())
    const { record } = await decodeVersionRecord(await get(v.cid))
    for await (const block of manifestBlocks(get, record.root)) {
      signal?.throwIfAborted()
      live.add(block.cid.toString())
    }
  }
  return live
}
