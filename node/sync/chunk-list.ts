/**
 * The chunks of a version as the manifest walk finds them, sorted against the local store
 * into those this node has and those it lacks. The lacking ones are cut into batches of at
 * most `batchBytes` / `batchCount` (what the sync fetches), and every chunk is kept for the
 * reverse index but those the bucket's previous version has; both as packed CIDs (each
 * CID's length, then its bytes: about 37 bytes a chunk), so memory stays flat per chunk.
 *
 * Each batch also has a span: the positions in the version's chunk list (walk order, the
 * same on every node) from just after the previous batch to its own last chunk. Once a
 * batch is stored this node holds every chunk of its span (the ones it skipped were here),
 * which is what it tells fellows over `/rok/have/1.0.0`.
 */
import { cidFromBytes, type CID } from '../../protocol/cid.ts'

/** Chunk CIDs as one buffer, with their count and the bytes of their chunks. */
export interface PackedBatch { packed: Uint8Array, count: number, bytes: number }

/** Positions `[start, end)` in the version's chunk list; `first` is the batch's first chunk (those before it were here). */
export interface Span { start: number, first: number, end: number }

/** Chunks looked up in the store at once. */
const SORT_COUNT = 1024

export class ChunkSorter {
  /** Batches of chunks this node lacks, in the order the walk found them. */
  readonly batches: PackedBatch[] = []
  /** The span of each batch (same index): batches tile the list up to the last one's end. */
  readonly spans: Span[] = []
  /** Chunks in the version (every position of its list), once finished. */
  total = 0
  /** The chunks the reverse index needs for this version, in groups: all but the known ones (see add). */
  readonly toIndex: PackedBatch[] = []
  /** Bytes of the chunks this node has already. */
  presentBytes = 0
  private readonly hasMany: (cids: CID[]) => Promise<boolean[]>
  private readonly batchBytes: number
  private readonly batchCount: number
  private pending: Array<{ cid: CID, size: number, known: boolean }> = []
  private missing: Uint8Array[] = []
  private missingBytes = 0
  private firstMissing = 0
  private lastMissing = -1

  constructor (hasMany: (cids: CID[]) => Promise<boolean[]>, batchBytes: number, batchCount: number) {
    this.hasMany = hasMany
    this.batchBytes = batchBytes
    this.batchCount = batchCount
  }

  /**
   * The next chunk of the version's list. `known`: here and indexed for the bucket already
   * (the bucket's previous version has it), so neither looked up nor listed for the index.
   */
  async add (cid: CID, size: number, known = false): Promise<void> {
    this.pending.push({ cid, size, known })
    if (this.pending.length >= SORT_COUNT) await this.sort()
  }

  /** Sort what is pending and close the last batch. */
  async finish (): Promise<void> {
    await this.sort()
    if (this.missing.length > 0) this.close()
  }

  private async sort (): Promise<void> {
    if (this.pending.length === 0) return
    const pending = this.pending
    this.pending = []
    const unknown = pending.filter(p => !p.known)
    if (unknown.length > 0) this.toIndex.push(packCids(unknown.map(p => p.cid.bytes), unknown.reduce((n, p) => n + p.size, 0)))
    const have = unknown.length > 0 ? await this.hasMany(unknown.map(p => p.cid)) : []
    let asked = 0
    for (const { cid, size, known } of pending) {
      const position = this.total++
      if (known || have[asked++]) { this.presentBytes += size; continue }
      this.missing.push(cid.bytes)
      this.missingBytes += size
      if (this.missing.length === 1) this.firstMissing = position
      this.lastMissing = position
      if (this.missingBytes >= this.batchBytes || this.missing.length >= this.batchCount) this.close()
    }
  }

  private close (): void {
    this.spans.push({ start: this.spans.at(-1)?.end ?? 0, first: this.firstMissing, end: this.lastMissing + 1 })
    this.batches.push(packCids(this.missing, this.missingBytes))
    this.missing = []
    this.missingBytes = 0
  }
}

export function packCids (cids: Uint8Array[], bytes: number): PackedBatch {
  let length = 0
  for (const c of cids) length += 1 + c.byteLength
  const packed = new Uint8Array(length)
  let at = 0
  for (const c of cids) {
    // every CID here passed checkCid: 36 bytes (CIDv1, sha2-256), so one length byte is plenty
    packed[at++] = c.byteLength
    packed.set(c, at)
    at += c.byteLength
  }
  return { packed, count: cids.length, bytes }
}

/** The CIDs of a packed batch, as their bytes (views into the batch, no copies). */
export function * packedCidBytes (batch: PackedBatch): Generator<Uint8Array> {
  for (let at = 0; at < batch.packed.byteLength;) {
    const length = batch.packed[at++]
    yield batch.packed.subarray(at, at + length)
    at += length
  }
}

export function unpackCids (batch: PackedBatch): CID[] {
  const out: CID[] = []
  for (const bytes of packedCidBytes(batch)) out.push(cidFromBytes(bytes))
  return out
}
