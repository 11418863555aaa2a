/**
 * `rok verify --tier`: check the tier's copy. Every pack the catalog lists must be in the
 * object store, hash to its name, and hold each catalog block at its recorded place with
 * the right bytes; every version marked pushed must have its version object, and every
 * block of its manifest must be in the catalog. Reads every pack once; changes nothing.
 */
import { CID } from '../../protocol/cid.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { BlockStore } from '../store/types.ts'
import type { ObjectBackend } from './backend.ts'
import type { BlockLocation, Catalog } from './catalog.ts'
import { PACKS_PREFIX, VERSIONS_PREFIX, versionObjectKey } from './keys.ts'
import { mapLimit } from './limit.ts'
import { checkPack, packKey } from './pack.ts'

export interface TierDamage {
  /** A pack name, a block CID or a version `group/name@seq`. */
  what: string
  problem: 'missing-pack' | 'corrupt-pack' | 'corrupt-block' | 'misplaced-block' | 'missing-version' | 'missing-block' | 'unreadable'
  detail?: string
}

export interface TierVerifyReport {
  ok: boolean
  packs: number
  blocks: number
  bytes: number
  versions: number
  damaged: TierDamage[]
}

export interface TierVerifyContext {
  backend: ObjectBackend
  catalog: Catalog
  /** Reads manifests (local, else from the tier). */
  store: Pick<BlockStore, 'get'>
}

const MAX_DAMAGE = 1000
const VERIFY_CONCURRENCY = 2

export async function verifyTier (ctx: TierVerifyContext, options: { signal?: AbortSignal, onProgress?: (p: { packs: number, bytes: number }) => void } = {}): Promise<TierVerifyReport> {
  const { signal } = options
  const damaged: TierDamage[] = []
  const note = (d: TierDamage): void => { if (damaged.length < MAX_DAMAGE) damaged.push(d) }
  const remote = new Set((await ctx.backend.list(PACKS_PREFIX, { signal })).map(o => o.key))
  const byPack = new Map<string, Array<[string, BlockLocation]>>()
  for await (const [cid, loc] of ctx.catalog.blocks()) {
    const list = byPack.get(loc.pack) ?? []
    list.push([cid, loc])
    byPack.set(loc.pack, list)
  }
  // A pack gc has marked holds nothing any entry points at; a crash in its sweep may
  // have deleted the object before the record: not damage.
  const candidates = new Set<string>()
  for await (const [name] of ctx.catalog.candidates()) candidates.add(name)
  const packs: string[] = []
  for await (const [name] of ctx.catalog.packs()) if (!candidates.has(name)) packs.push(name)
  let checked = 0
  let bytes = 0
  let blocks = 0
  await mapLimit(packs, VERIFY_CONCURRENCY, async (name) => {
    signal?.throwIfAborted()
    const entries = byPack.get(name) ?? []
    if (!remote.has(packKey(name))) { note({ what: name, problem: 'missing-pack', detail: `${entries.length} blocks recorded in it` }); return }
    let body: Uint8Array
    try {
      body = await ctx.backend.get(packKey(name), { signal })
    } catch (err) {
      note({ what: name, problem: 'unreadable', detail: (err as Error).message })
      return
    }
    try {
      const { entries: inPack, bad } = checkPack(name, body)
      for (const b of bad) note({ what: b.cid.toString(), problem: 'corrupt-block', detail: `in pack ${name}` })
      const at = new Map(inPack.map(e => [e.cid.toString(), e]))
      for (const [cid, loc] of entries) {
        const e = at.get(cid)
        if (e === undefined || e.offset !== loc.offset || e.length !== loc.length) note({ what: cid, problem: 'misplaced-block', detail: `catalog says pack ${name} at ${loc.offset}` })
      }
    } catch (err) {
      note({ what: name, problem: 'corrupt-pack', detail: (err as Error).message })
    }
    checked++
    blocks += entries.length
    bytes += body.length
    options.onProgress?.({ packs: checked, bytes })
  })
  const versionKeys = new Set((await ctx.backend.list(VERSIONS_PREFIX, { signal })).map(o => o.key))
  let versions = 0
  for await (const v of ctx.catalog.pushedVersions()) {
    signal?.throwIfAborted()
    versions++
    const name = `${v.bucket}@${v.seq}`
    if (!versionKeys.has(versionObjectKey(v.bucket, v.seq))) { note({ what: name, problem: 'missing-version', detail: 'no version object' }); continue }
    try {
      const { record } = await decodeVersionRecord(await ctx.store.get(CID.parse(v.cid), { signal }))
      let batch: CID[] = []
      const check = async (): Promise<void> => {
        const found = await ctx.catalog.locateMany(batch.map(c => c.toString()))
        for (const [i, f] of found.entries()) if (f === undefined) note({ what: batch[i].toString(), problem: 'missing-block', detail: `needed by ${name}` })
        batch = []
      }
      for await (const block of manifestBlocks(async c => await ctx.store.get(c, { signal }), record.root)) {
        batch.push(block.cid)
        if (batch.length >= 1024) await check()
      }
      await check()
    } catch (err) {
      note({ what: name, problem: 'unreadable', detail: (err as Error).message })
    }
  }
  return { ok: damaged.length === 0, packs: checked, blocks, bytes, versions, damaged }
}
