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
import { cidTail, tableEntryIs, tableEntryLocation, tableEntryStarts, tableEntryTail, type BlockLocation } from './pack-format.ts'

/** Blocks remembered at most: ~1 MB; eight packs of 16 KiB chunks. */
export const PACK_TABLES_MAX_BLOCKS = 16 * 1024

/**
 * One pack's table with an open-addressing hash of its entries by CID tail: no object or
 * string per block, so learning a pack costs the collector nothing but three arrays.
 */
class LoadedTable {
  readonly pack: number
  private readonly table: Uint8Array
  private readonly starts: Uint32Array
  private readonly slots: Int32Array
  private readonly mask: number

  constructor (pack: number, table: Uint8Array, starts: Uint32Array) {
    this.pack = pack
    this.table = table
    this.starts = starts
    let size = 16
    while (size < starts.length * 2) size *= 2
    this.mask = size - 1
    this.slots = new Int32Array(size).fill(-1)
    for (let i = 0; i < starts.length; i++) {
      let slot = tableEntryTail(table, starts[i]) & this.mask
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask
      this.slots[slot] = i
    }
  }

  get blocks (): number {
    return this.starts.length
  }

  find (cidBytes: Uint8Array, tail: number): BlockLocation | undefined {
    for (let slot = tail & this.mask; ; slot = (slot + 1) & this.mask) {
      const i = this.slots[slot]
      if (i === -1) return undefined
      if (tableEntryIs(this.table, this.starts[i], cidBytes)) return tableEntryLocation(this.table, this.starts[i], this.pack)
    }
  }
}

export class PackTables {
  private readonly read: (pack: number) => Promise<Uint8Array | undefined>
  private readonly maxBlocks: number
  /** Packs looked at, oldest first; undefined for one without a table (or not read yet). */
  private readonly packs = new Map<number, LoadedTable | undefined>()
  /** The loaded tables, newest first: the next block is most likely in the pack just read. */
  private loaded: LoadedTable[] = []
  private blocks = 0
  /** Changes when a pack is forgotten: a table read that spans a change is dropped. */
  private epoch = 0

  /** `read`: the stored table of a pack, undefined when it has none. */
  constructor (read: (pack: number) => Promise<Uint8Array | undefined>, maxBlocks = PACK_TABLES_MAX_BLOCKS) {
    this.read = read
    this.maxBlocks = maxBlocks
  }

  get (cidBytes: Uint8Array): BlockLocation | undefined {
    if (this.loaded.length === 0) return undefined
    const tail = cidTail(cidBytes)
    for (const table of this.loaded) {
      const location = table.find(cidBytes, tail)
      if (location !== undefined) return location
    }
    return undefined
  }

  /** Read pack `id`'s table in the background, once; later lookups find its blocks. */
  learn (id: number): void {
    if (this.packs.has(id)) return
    this.packs.set(id, undefined)
    const epoch = this.epoch
    this.read(id).then(bytes => {
      if (epoch !== this.epoch || !this.packs.has(id) || this.packs.get(id) !== undefined || bytes === undefined) return
      const starts = tableEntryStarts(bytes)
      if (starts === undefined) return
      const table = new LoadedTable(id, bytes, starts)
      this.packs.set(id, table)
      this.loaded.unshift(table)
      this.blocks += table.blocks
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
    this.packs.clear()
    this.loaded = []
    this.blocks = 0
  }

  private trim (): void {
    for (const id of this.packs.keys()) {
      if (this.blocks <= this.maxBlocks) return
      this.drop(id)
    }
  }

  private drop (id: number): void {
    const table = this.packs.get(id)
    this.packs.delete(id)
    if (table === undefined) return
    this.loaded = this.loaded.filter(t => t !== table)
    this.blocks -= table.blocks
  }
}
