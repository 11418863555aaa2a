/**
 * gc's deletion candidates: blocks a mark found unreferenced by every retained version,
 * each with the time it was marked. They persist in the home's db (a crash keeps the
 * state) and are mirrored in memory, so the store's rescue check on every `has`, read and
 * repeated `put` is one Map lookup — none at all while nothing is a candidate, the usual
 * case — keyed by the CID's bytes (base32 text per check was the largest source of garbage
 * of a syncing node).
 *
 * A candidate is deleted only when all of these hold at sweep time:
 *  - it was marked at least the grace period ago;
 *  - nobody asked for it or put it again since (that rescues it: `touch`);
 *  - the sweep's own fresh mark finds it unreferenced;
 *  - no write (snapshot, sync) that began before it was marked is still running — such a
 *    write may have seen the block present before it became a candidate, so its `has`
 *    did not rescue it; writes take a lease for their duration (`lease`).
 */
import { cidKey, type CID } from '../../protocol/cid.ts'
import type { PresenceGuard } from '../store/index.ts'

/** The slice of a level sublevel (binary keys, utf8 values) the candidates need. */
export interface CandidateIndex {
  batch: (ops: Array<{ type: 'put', key: Uint8Array, value: string } | { type: 'del', key: Uint8Array }>, options?: { sync?: boolean }) => Promise<void>
  del: (key: Uint8Array) => Promise<void>
  iterator: () => AsyncIterable<[Uint8Array, string]>
}

const PERSIST_BATCH = 4096

export class GcCandidates implements PresenceGuard {
  generation = 0
  /** Rescues since the last gc took the count. */
  rescued = 0
  private readonly index: CandidateIndex
  /** cidKey(CID bytes) → time it was marked (ms). */
  private readonly marked = new Map<string, number>()
  private readonly deleting = new Set<string>()
  private readonly leases = new Map<number, number>()
  private nextLease = 1
  private running = false

  private constructor (index: CandidateIndex) {
    this.index = index
  }

  static async open (index: CandidateIndex): Promise<GcCandidates> {
    const c = new GcCandidates(index)
    for await (const [key, value] of index.iterator()) c.marked.set(cidKey(key), Number(value))
    return c
  }

  get size (): number { return this.marked.size }

  markedAt (cid: CID): number | undefined {
    return this.marked.get(cidKey(cid.bytes))
  }

  touch (cid: CID): boolean {
    if (this.marked.size === 0 && this.deleting.size === 0) return true
    const key = cidKey(cid.bytes)
    if (this.deleting.has(key)) return false
    if (this.marked.delete(key)) {
      this.rescued++
      // Best effort: after a crash the fresh mark of the next sweep protects what matters
      // (every write that could have relied on this rescue died with the process).
      this.index.del(cid.bytes).catch(() => {})
    }
    return true
  }

  takeRescued (): number {
    const n = this.rescued
    this.rescued = 0
    return n
  }

  /** A write that may reference existing blocks is starting; call the result when it is over. */
  lease (now: number = Date.now()): () => void {
    const id = this.nextLease++
    this.leases.set(id, now)
    return () => { this.leases.delete(id) }
  }

  /** Start of the oldest write still running, or Infinity. */
  oldestLease (): number {
    let oldest = Infinity
    for (const t of this.leases.values()) oldest = Math.min(oldest, t)
    return oldest
  }

  /** One gc at a time: false when one is already running. */
  acquire (): boolean {
    if (this.running) return false
    this.running = true
    return true
  }

  release (): void { this.running = false }

  /** Record new candidates (durably: a sweep after a crash still knows when they were marked). */
  async mark (cids: CID[], at: number): Promise<void> {
    for (let i = 0; i < cids.length; i += PERSIST_BATCH) {
      const slice = cids.slice(i, i + PERSIST_BATCH)
      await this.index.batch(slice.map(c => ({ type: 'put' as const, key: c.bytes, value: String(at) })), { sync: i + PERSIST_BATCH >= cids.length })
      for (const c of slice) this.marked.set(cidKey(c.bytes), at)
    }
  }

  /** Candidates found referenced again by a fresh mark: no longer candidates. */
  async unmark (cids: CID[]): Promise<void> {
    for (let i = 0; i < cids.length; i += PERSIST_BATCH) {
      const slice = cids.slice(i, i + PERSIST_BATCH)
      for (const c of slice) this.marked.delete(cidKey(c.bytes))
      await this.index.batch(slice.map(c => ({ type: 'del' as const, key: c.bytes })))
    }
  }

  /**
   * Called inside the store's write queue right before the index entries go: keeps those
   * of `due` still candidates with the same mark (not rescued meanwhile), flags them as
   * being deleted (a `has` now answers absent, a `put` writes a fresh copy) and forgets
   * them durably first — a crash after this leaves blocks that are simply unmarked.
   */
  async beginDelete (due: Array<{ cid: CID, markedAt: number }>): Promise<CID[]> {
    const chosen = due.filter(d => this.marked.get(cidKey(d.cid.bytes)) === d.markedAt).map(d => d.cid)
    this.generation++
    for (const c of chosen) {
      const key = cidKey(c.bytes)
      this.marked.delete(key)
      this.deleting.add(key)
    }
    for (let i = 0; i < chosen.length; i += PERSIST_BATCH) {
      await this.index.batch(chosen.slice(i, i + PERSIST_BATCH).map(c => ({ type: 'del' as const, key: c.bytes })))
    }
    return chosen
  }

  endDelete (): void {
    this.deleting.clear()
    this.generation++
  }
}
