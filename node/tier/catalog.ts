/**
 * The tier catalog: the node's own record of what the object store holds, in the home's
 * db, so a push never LISTs or HEADs per block to learn what is already there.
 *
 * Keys (sublevel `tier`):
 *   b!<cid>           → `<pack>:<offset>:<length>`  a block in a tier pack
 *   p!<pack>          → PackInfo JSON               a pack the tier holds
 *   u!<pack>          → `<ms>`                      an upload begun, not yet recorded
 *   v!<bucket>!<seq>  → `<record cid>`              a version whose object is in the tier
 *   r!<bucket>!<seq>  → `<record cid>`              … pulled, not pushed by this node
 *   c!<pack>          → Candidate JSON              a pack marked for deletion (gc)
 *
 * Ordering rule: a block entry is written only after its pack is in the object store; a
 * version entry only after its version object is. So every entry points at an object
 * that exists, whatever moment a crash comes at.
 */
import type { KeyValue } from '../sync/kv.ts'

export interface BlockLocation {
  pack: string
  offset: number
  length: number
}

export interface PackInfo {
  size: number
  blocks: number
  /** 'data' (chunks) or 'meta' (manifest nodes): meta packs are fetched whole. */
  kind: 'data' | 'meta'
  at: number
  /**
   * 'listed' when this node only found the pack in the store (written by another node
   * or another home): gc never deletes those. Absent means written by this node.
   */
  origin?: 'listed'
}

export interface Candidate {
  markedAt: number
  /** The pack's entries when it was marked: [cid, offset, length]. */
  entries: Array<[string, number, number]>
}

export type CatalogOp = { type: 'put', key: string, value: string } | { type: 'del', key: string }

const SEQ_DIGITS = 15

export const catalogKey = {
  block: (cid: string) => `b!${cid}`,
  pack: (name: string) => `p!${name}`,
  upload: (name: string) => `u!${name}`,
  version: (bucket: string, seq: number) => `v!${bucket}!${String(seq).padStart(SEQ_DIGITS, '0')}`,
  candidate: (name: string) => `c!${name}`
}

export function encodeLocation (l: BlockLocation): string {
  return `${l.pack}:${l.offset}:${l.length}`
}

export function decodeLocation (v: string): BlockLocation {
  const [pack, offset, length] = v.split(':')
  return { pack, offset: Number(offset), length: Number(length) }
}

export class Catalog {
  readonly kv: KeyValue

  constructor (kv: KeyValue) {
    this.kv = kv
  }

  async locateMany (cids: string[]): Promise<Array<BlockLocation | undefined>> {
    if (cids.length === 0) return []
    const found = await this.kv.getMany(cids.map(catalogKey.block))
    return found.map(v => v === undefined ? undefined : decodeLocation(v))
  }

  async locate (cid: string): Promise<BlockLocation | undefined> {
    const v = await this.kv.get(catalogKey.block(cid))
    return v === undefined ? undefined : decodeLocation(v)
  }

  async pack (name: string): Promise<PackInfo | undefined> {
    const v = await this.kv.get(catalogKey.pack(name))
    return v === undefined ? undefined : JSON.parse(v) as PackInfo
  }

  /** The ops that record a pack and its blocks (and close its upload intent). */
  packOps (name: string, info: PackInfo, entries: Array<{ cid: string, offset: number, length: number }>): CatalogOp[] {
    return [
      ...entries.map(e => ({ type: 'put' as const, key: catalogKey.block(e.cid), value: encodeLocation({ pack: name, offset: e.offset, length: e.length }) })),
      { type: 'put', key: catalogKey.pack(name), value: JSON.stringify(info) },
      { type: 'del', key: catalogKey.upload(name) }
    ]
  }

  async apply (ops: CatalogOp[]): Promise<void> {
    if (ops.length > 0) await this.kv.batch(ops, { sync: true })
  }

  async beginUpload (name: string, now: number): Promise<void> {
    await this.kv.put(catalogKey.upload(name), String(now), { sync: true })
  }

  async endUpload (name: string): Promise<void> {
    await this.kv.del(catalogKey.upload(name), { sync: true })
  }

  async uploads (): Promise<string[]> {
    const out: string[] = []
    for await (const [key] of this.kv.iterator({ gt: 'u!', lt: 'u!~' })) out.push(key.slice(2))
    return out
  }

  async versionPushed (bucket: string, seq: number): Promise<boolean> {
    return (await this.kv.get(catalogKey.version(bucket, seq))) !== undefined
  }

  async markVersionPushed (bucket: string, seq: number, cid: string): Promise<void> {
    await this.kv.put(catalogKey.version(bucket, seq), cid, { sync: true })
  }

  /** A version pulled from the tier: the tier holds it, but this node did not write it. */
  async markVersionPulled (bucket: string, seq: number, cid: string): Promise<void> {
    await this.apply([
      { type: 'put', key: catalogKey.version(bucket, seq), value: cid },
      { type: 'put', key: 'r' + catalogKey.version(bucket, seq).slice(1), value: cid }
    ])
  }

  async versionPulled (bucket: string, seq: number): Promise<boolean> {
    return (await this.kv.get('r' + catalogKey.version(bucket, seq).slice(1))) !== undefined
  }

  async * pushedVersions (): AsyncGenerator<{ bucket: string, seq: number, cid: string }> {
    for await (const [key, value] of this.kv.iterator({ gt: 'v!', lt: 'v!~' })) {
      const rest = key.slice(2)
      const bang = rest.lastIndexOf('!')
      yield { bucket: rest.slice(0, bang), seq: Number(rest.slice(bang + 1)), cid: value }
    }
  }

  async * packs (): AsyncGenerator<[string, PackInfo]> {
    for await (const [key, value] of this.kv.iterator({ gt: 'p!', lt: 'p!~' })) yield [key.slice(2), JSON.parse(value) as PackInfo]
  }

  async * blocks (): AsyncGenerator<[string, BlockLocation]> {
    for await (const [key, value] of this.kv.iterator({ gt: 'b!', lt: 'b!~' })) yield [key.slice(2), decodeLocation(value)]
  }

  async * candidates (): AsyncGenerator<[string, Candidate]> {
    for await (const [key, value] of this.kv.iterator({ gt: 'c!', lt: 'c!~' })) yield [key.slice(2), JSON.parse(value) as Candidate]
  }
}
