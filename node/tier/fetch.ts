/**
 * Fetching blocks from the tier: look each up in the catalog, group by pack, read
 * neighbouring blocks with one ranged GET (gaps under FETCH_MAX_GAP, spans under
 * FETCH_MAX_SPAN), a few GETs at a time, and verify every block against its CID.
 * Manifest (meta) packs are small and read together, so they are fetched whole: one GET
 * brings a version's whole manifest.
 */
import { CID, bytesMatchCid } from '../../protocol/cid.ts'
import { RokError, isRokError } from '../../protocol/errors.ts'
import type { DiskBlockStore } from '../store/index.ts'
import { StoreErrorCode } from '../store/index.ts'
import type { BlockStore, StoreOptions } from '../store/types.ts'
import type { ObjectBackend } from './backend.ts'
import type { BlockLocation, Catalog } from './catalog.ts'
import { FETCH_CONCURRENCY, FETCH_MAX_GAP, FETCH_MAX_SPAN } from './constants.ts'
import { TierErrorCode } from './errors.ts'
import { mapLimit } from './limit.ts'
import { packKey, parseTrailer } from './pack.ts'

export interface FetchContext {
  backend: ObjectBackend
  catalog: Catalog
}

interface Want { cid: CID, loc: BlockLocation }

/**
 * The blocks asked for, keyed by CID string — and, for meta packs, every other block of
 * the pack too (the caller keeps them). Throws ERR_TIER_BLOCK_NOT_IN_TIER naming the
 * first block the catalog does not know.
 */
export async function fetchBlocks (ctx: FetchContext, cids: CID[], options: StoreOptions = {}): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  if (cids.length === 0) return out
  const unique = [...new Map(cids.map(c => [c.toString(), c])).values()]
  const locations = await ctx.catalog.locateMany(unique.map(c => c.toString()))
  const byPack = new Map<string, Want[]>()
  for (const [i, cid] of unique.entries()) {
    const loc = locations[i]
    if (loc === undefined) {
      throw new RokError(TierErrorCode.BLOCK_NOT_IN_TIER, `block ${cid.toString()} is neither in the local store nor in the tier (${ctx.backend.location})`, { details: { cid: cid.toString() } })
    }
    const list = byPack.get(loc.pack) ?? []
    list.push({ cid, loc })
    byPack.set(loc.pack, list)
  }
  const reads: Array<{ pack: string, offset: number, length: number, wants: Want[] }> = []
  for (const [pack, wants] of byPack) {
    const info = await ctx.catalog.pack(pack)
    if (info?.kind === 'meta') { reads.push({ pack, offset: 0, length: info.size, wants: [] }); continue }
    wants.sort((a, b) => a.loc.offset - b.loc.offset)
    let run: Want[] = []
    const close = (): void => {
      if (run.length === 0) return
      const first = run[0].loc
      const last = run[run.length - 1].loc
      reads.push({ pack, offset: first.offset, length: last.offset + last.length - first.offset, wants: run })
      run = []
    }
    for (const w of wants) {
      const start = run.length === 0 ? undefined : run[0].loc.offset
      const prev = run.length === 0 ? undefined : run[run.length - 1].loc
      if (prev !== undefined && (w.loc.offset - (prev.offset + prev.length) > FETCH_MAX_GAP || w.loc.offset + w.loc.length - start! > FETCH_MAX_SPAN)) close()
      run.push(w)
    }
    close()
  }
  await mapLimit(reads, FETCH_CONCURRENCY, async (r) => {
    const bytes = await ctx.backend.get(packKey(r.pack), { range: { offset: r.offset, length: r.length }, signal: options.signal })
    if (bytes.length !== r.length) {
      throw new RokError(TierErrorCode.DAMAGED, `tier pack ${r.pack} is shorter than its catalog entry says; run 'rok verify --tier'`, { details: { pack: r.pack } })
    }
    if (r.wants.length === 0) {
      // a whole meta pack: keep every block in it
      for (const e of parseTrailer(r.pack, bytes, bytes.length)) keep(out, r.pack, e.cid, bytes.subarray(e.offset, e.offset + e.length))
      return
    }
    for (const w of r.wants) keep(out, r.pack, w.cid, bytes.subarray(w.loc.offset - r.offset, w.loc.offset - r.offset + w.loc.length))
  })
  for (const cid of unique) {
    if (!out.has(cid.toString())) {
      throw new RokError(TierErrorCode.DAMAGED, `tier pack does not hold block ${cid.toString()} where the catalog says; run 'rok verify --tier'`, { details: { cid: cid.toString() } })
    }
  }
  return out
}

function keep (out: Map<string, Uint8Array>, pack: string, cid: CID, bytes: Uint8Array): void {
  if (!bytesMatchCid(cid, bytes)) {
    throw new RokError(TierErrorCode.DAMAGED, `block ${cid.toString()} in tier pack ${pack} is corrupt; run 'rok verify --tier'`, { details: { cid: cid.toString(), pack } })
  }
  out.set(cid.toString(), bytes)
}

export type LocalStore = Pick<DiskBlockStore, 'get' | 'getMany' | 'has' | 'hasMany' | 'put' | 'putMany' | 'flush'>

/**
 * The local store, reading through to the tier on a miss: fetched blocks are verified,
 * kept in the local store (so a second read is local) and returned. Writes go to the
 * local store only.
 */
export function readThroughStore (local: LocalStore, fetch: (cids: CID[], options?: StoreOptions) => Promise<Map<string, Uint8Array>>, catalog: Catalog): BlockStore {
  const keepAll = async (fetched: Map<string, Uint8Array>): Promise<void> => {
    await local.putMany([...fetched].map(([c, b]) => [CID.parse(c), b] as [CID, Uint8Array]))
  }
  return {
    async has (cid, options) {
      return await local.has(cid, options) || (await catalog.locate(cid.toString())) !== undefined
    },
    async get (cid, options) {
      try {
        return await local.get(cid, options)
      } catch (err) {
        if (!isRokError(err, StoreErrorCode.BLOCK_NOT_FOUND)) throw err
      }
      const fetched = await fetch([cid], options)
      await keepAll(fetched)
      return fetched.get(cid.toString())!
    },
    async getMany (cids, options) {
      const present = await local.hasMany(cids)
      const missing = cids.filter((_, i) => !present[i])
      if (missing.length === 0) return await local.getMany(cids, options)
      const fetched = await fetch(missing, options)
      await keepAll(fetched)
      const localCids = cids.filter((_, i) => present[i])
      const localBytes = localCids.length === 0 ? [] : await local.getMany(localCids, options)
      const byCid = new Map(localCids.map((c, i) => [c.toString(), localBytes[i]]))
      return cids.map(c => fetched.get(c.toString()) ?? byCid.get(c.toString())!)
    },
    put: async (cid, bytes, options) => await local.put(cid, bytes, options),
    putMany: async (blocks, options) => await local.putMany(blocks, options),
    flush: async (options) => { await local.flush(options) }
  }
}
