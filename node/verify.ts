/**
 * `rok verify`: read back every block in the store and check it against its CID, then
 * walk every version's manifest and name, for each corrupt or missing block, every
 * version and path it breaks. Reports; never changes anything.
 */
import type { CID } from '../protocol/cid.ts'
import { bytesMatchCid } from '../protocol/cid.ts'
import { decodeVersionRecord } from '../protocol/record.ts'
import type { Buckets } from './buckets/index.ts'
import { manifestBlocks } from './snapshot/index.ts'
import type { DiskBlockStore } from './store/index.ts'

export interface Damage {
  cid: string
  problem: 'corrupt' | 'missing' | 'unreadable'
  detail?: string
  /** Versions and paths this block breaks. */
  affects: Array<{ bucket: string, seq: number, path: string }>
}

export interface VerifyReport {
  ok: boolean
  blocks: number
  bytes: number
  versions: number
  damaged: Damage[]
}

export interface VerifyOptions {
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all'>
  signal?: AbortSignal
  onProgress?: (p: { blocks: number, bytes: number }) => void
}

const MAX_AFFECTS = 1000

export async function verifyStore (options: VerifyOptions): Promise<VerifyReport> {
  const { store, signal } = options
  const damaged = new Map<string, Damage>()
  let blocks = 0
  let bytes = 0
  for await (const { cid, location } of store.blocks()) {
    signal?.throwIfAborted()
    try {
      const data = await store.readAt(location, cid)
      if (!bytesMatchCid(cid, data)) damaged.set(cid.toString(), { cid: cid.toString(), problem: 'corrupt', affects: [] })
    } catch (err) {
      damaged.set(cid.toString(), { cid: cid.toString(), problem: 'unreadable', detail: (err as Error).message, affects: [] })
    }
    blocks++
    bytes += location.length
    options.onProgress?.({ blocks, bytes })
  }
  let versions = 0
  for await (const v of options.buckets.all()) {
    versions++
    const note = (cid: CID, path: string, problem: Damage['problem']): void => {
      const key = cid.toString()
      const d = damaged.get(key) ?? { cid: key, problem, affects: [] }
      damaged.set(key, d)
      if (d.affects.length < MAX_AFFECTS) d.affects.push({ bucket: v.bucket, seq: v.seq, path })
    }
    const get = async (cid: CID): Promise<Uint8Array> => await store.get(cid)
    let record
    try {
      record = await decodeVersionRecord(await get(v.cid))
    } catch {
      note(v.cid, '(version record)', damaged.has(v.cid.toString()) ? damaged.get(v.cid.toString())!.problem : 'missing')
      continue
    }
    try {
      for await (const block of manifestBlocks(get, record.record.root)) {
        const key = block.cid.toString()
        if (damaged.has(key)) { note(block.cid, block.path ?? '(manifest)', damaged.get(key)!.problem); continue }
        if (block.type === 'chunk' && !(await store.has(block.cid))) note(block.cid, block.path ?? '', 'missing')
      }
    } catch (err) {
      const cid = (err as { details?: { cid?: string } }).details?.cid
      const key = cid ?? record.record.root.toString()
      const d = damaged.get(key) ?? { cid: key, problem: 'missing' as const, detail: (err as Error).message, affects: [] }
      damaged.set(key, d)
      d.affects.push({ bucket: v.bucket, seq: v.seq, path: '(manifest: the rest of this version cannot be read)' })
    }
  }
  const list = [...damaged.values()]
  return { ok: list.length === 0, blocks, bytes, versions, damaged: list }
}
