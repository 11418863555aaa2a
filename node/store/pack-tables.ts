/**
 * Where the blocks of recently read packs sit, learned from their tables of contents
 * (pack-format.ts). Why: a peer fetching a version asks for blocks in the order they
 * were stored, so what it asks for next sits in the packs just read. Finding each one
 * through the index cost one level lookup per block on the serving side (~0.5 CPU-s per
 * GiB of 16 KiB chunks with its threads and collector) where one table per 32 MiB pack
 * now does.
 *
 * A table lists what a pack holds, not what the index still points at: a block gc or
 * tiering has unindexed can still be found here until its pack is removed. Its bytes are
 * still the block's bytes, so only readers that want bytes and nothing more (the
 * exchange's serving side) look here.
 */
import { cidKey } from '../../protocol/cid.ts'
import { decodePackTable, type BlockLocation } from './pack-format.ts'

/** Blocks remembered at most: ~2 MB; eight packs of 16 KiB chunks. */
export const PACK_TABLES_MAX_BLOCKS = 16 * 1024

export class PackTables {
  private readonly read: (pack: number) => Promise<Uint8Array | undefined>
  private readonly maxBlocks: number
  private readonly locations = new Map<string, BlockLocation>()
  /** Packs looked at, oldest first, with the keys each added (none for a pack without a table). */
  private readonly packs = new Map<number, string[]>()
  private blocks = 0
  /** Changes when a pack is forgotten: a table read that spans a change is dropped. */
  private epoch = 0

  /** `read`: the stored table of a pack, undefined when it has none. */
  constructor (read: (pack: number) => Promise<Uint8Array | undefined>, maxBlocks = PACK_TABLES_MAX_BLOCKS) {
    this.read = read
    this.maxBlocks = maxBlocks
  }

  get (key: string): BlockLocation | undefined {
    return this.locations.get(key)
  }

  /** Read pack `id`'s table in the background, once; later lookups find its blocks. */
  learn (id: number): void {
    if (this.packs.has(id)) return
    this.packs.set(id, [])
    const epoch = this.epoch
    this.read(id).then(bytes => {
      if (epoch !== this.epoch || this.packs.get(id)?.length !== 0 || bytes === undefined) return
      const table = decodePackTable(bytes)
      if (table === undefined) return
      const keys: string[] = []
      for (const { cidBytes, offset, length } of table) {
        const key = cidKey(cidBytes)
        this.locations.set(key, { pack: id, offset, length })
        keys.push(key)
      }
      this.packs.set(id, keys)
      this.blocks += keys.length
      this.trim()
    }, () => {
      // an unreadable table costs nothing but the lookups it would have saved
    })
  }

  /** A removed pack: none of its blocks may be looked for there again. */
  forget (id: number): void {
    this.epoch++
    this.drop(id)
  }

  clear (): void {
    this.epoch++
    this.locations.clear()
    this.packs.clear()
    this.blocks = 0
  }

  private trim (): void {
    for (const id of this.packs.keys()) {
      if (this.blocks <= this.maxBlocks) return
      this.drop(id)
    }
  }

  private drop (id: number): void {
    const keys = this.packs.get(id)
    if (keys === undefined) return
    this.packs.delete(id)
    this.blocks -= keys.length
    for (const key of keys) {
      // the same block in a later pack (gc moved it) keeps its newer place
      if (this.locations.get(key)?.pack === id) this.locations.delete(key)
    }
  }
}
