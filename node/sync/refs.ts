/**
 * The reverse index: which buckets reference which block. Written when a version is
 * recorded by a snapshot, and by a sync as soon as the version's manifest is here (before
 * its chunks, so fellow subscribers may fetch each chunk from this node once it is stored),
 * for its record, every manifest node and every chunk, so
 * that the exchange's authorize hook answers "does any bucket this peer may receive
 * reference this CID" with a few key lookups instead of walking manifests.
 *
 * Keys in the `refs` sublevel: `r!<cid>!<bucket>` per reference, `d!<bucket>!<record cid>`
 * once a version is fully indexed (so indexing is resumable and the daemon can backfill
 * versions recorded while it was not running). `rok forget` removes a forgotten version's
 * marker and the references no kept version of the bucket shares (removeVersion).
 * `h!<bucket>!<record cid>` → seq marks a version `rok verify --repair` found damaged: the
 * next sync of the bucket fetches what it lacks again (heal), and until then no update
 * trusts it to hold what it shares.
 */
import type { CID } from '../../protocol/cid.ts'
import { changedBlocks, manifestBlocks, type BlockGetter } from '../snapshot/index.ts'
import { REF_BATCH } from './constants.ts'
import type { KeyValue } from './kv.ts'
import { refKey } from './ref-key.ts'

export class RefIndex {
  private readonly kv: KeyValue
  /** referencedByAny's questions waiting for this turn's getMany. */
  private questions: Array<{ keys: string[], resolve: (found: boolean) => void, reject: (err: Error) => void }> = []

  constructor (kv: KeyValue) {
    this.kv = kv
  }

  async indexed (bucket: string, record: CID): Promise<boolean> {
    return await this.kv.get(`d!${bucket}!${record.toString()}`) !== undefined
  }

  /**
   * `sound`: indexed and not marked damaged, so every block under the version is here;
   * `damaged`: marked, waiting for a sync to heal it (indexed again by that sync);
   * `unindexed`: recorded while no daemon ran, or indexing was cut short.
   */
  async state (bucket: string, record: CID): Promise<'sound' | 'damaged' | 'unindexed'> {
    const [done, damaged] = await this.kv.getMany([`d!${bucket}!${record.toString()}`, `h!${bucket}!${record.toString()}`])
    return damaged !== undefined ? 'damaged' : done !== undefined ? 'sound' : 'unindexed'
  }

  /**
   * Mark a recorded version damaged (some block under it is missing or was dropped as
   * corrupt): no longer indexed, and listed by `damaged` until `healed`.
   */
  async markDamaged (bucket: string, seq: number, record: CID): Promise<void> {
    await this.kv.batch([
      { type: 'del', key: `d!${bucket}!${record.toString()}` },
      { type: 'put', key: `h!${bucket}!${record.toString()}`, value: String(seq) }
    ], { sync: true })
  }

  /** The bucket's versions marked damaged, newest first. */
  async damaged (bucket: string): Promise<Array<{ seq: number, record: string }>> {
    const out: Array<{ seq: number, record: string }> = []
    const prefix = `h!${bucket}!`
    for await (const [key, value] of this.kv.iterator({ gt: prefix, lt: prefix + '~' })) out.push({ seq: Number(value), record: key.slice(prefix.length) })
    return out.sort((a, b) => b.seq - a.seq)
  }

  async healed (bucket: string, record: CID): Promise<void> {
    await this.kv.del(`h!${bucket}!${record.toString()}`, { sync: true })
  }

  /**
   * Index every block of a version (its record, manifest nodes, chunks) as referenced by
   * `bucket`. Given the bucket's previous version (`parent`) and that one is fully indexed,
   * what both share is already indexed: only the blocks the version adds are written (the
   * changed folders' nodes and the changed files' chunks), so a v2 that edits a few files
   * in every folder of a large tree costs about the size of the edit. A snapshot that
   * recorded the blocks it stored passes them as `added` (node/snapshot/added-blocks.ts),
   * sparing the walk of the changed folders' lists.
   */
  async addVersion (bucket: string, record: CID, root: CID, get: BlockGetter, options: { signal?: AbortSignal, parent?: { record: CID, root: CID }, added?: Iterable<CID | Uint8Array> } = {}): Promise<number> {
    if (await this.indexed(bucket, record)) return 0
    const parent = options.parent
    if (parent !== undefined && await this.indexed(bucket, parent.record)) {
      if (options.added !== undefined) return await this.addBlocks(bucket, record, options.added, options)
      return await this.addBlocks(bucket, record, cidsOf(changedBlocks(get, root, parent.root)), options)
    }
    return await this.addBlocks(bucket, record, cidsOf(manifestBlocks(get, root)), options)
  }

  /**
   * Index `blocks` (a version's manifest nodes and chunks, listed by the caller, as CIDs or
   * CID bytes) and its record as referenced by `bucket`.
   */
  async addBlocks (bucket: string, record: CID, blocks: Iterable<CID | Uint8Array> | AsyncIterable<CID | Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<number> {
    if (await this.indexed(bucket, record)) return 0
    let ops: Array<{ type: 'put', key: string, value: string }> = [{ type: 'put', key: refKey('r', record, bucket), value: '' }]
    let count = 1
    for await (const cid of blocks) {
      ops.push({ type: 'put', key: refKey('r', cid, bucket), value: '' })
      count++
      if (ops.length >= REF_BATCH) {
        options.signal?.throwIfAborted()
        await this.kv.batch(ops)
        ops = []
      }
    }
    ops.push({ type: 'put', key: `d!${bucket}!${record.toString()}`, value: '' })
    await this.kv.batch(ops, { sync: true })
    return count
  }

  /** Drop a forgotten version (rok forget): its done marker and the references in `cids` (those no kept version of the bucket has). */
  async removeVersion (bucket: string, record: CID, cids: AsyncIterable<CID>): Promise<void> {
    let ops: Array<{ type: 'del', key: string }> = [{ type: 'del', key: `d!${bucket}!${record.toString()}` }, { type: 'del', key: `h!${bucket}!${record.toString()}` }]
    for await (const cid of cids) {
      ops.push({ type: 'del', key: refKey('r', cid, bucket) })
      if (ops.length >= REF_BATCH) { await this.kv.batch(ops); ops = [] }
    }
    await this.kv.batch(ops, { sync: true })
  }

  /**
   * True when one of `buckets` references `cid`. The exchange asks once per want, a run
   * of up to 128 wants in one go: the questions asked in the same turn are answered by
   * one `getMany` (one call into level instead of one each, and far less garbage on a
   * serving node).
   */
  // not async: the promise given is the one answerQuestions settles, no wrapper per block
  referencedByAny (cid: CID, buckets: string[]): Promise<boolean> {
    if (buckets.length === 0) return Promise.resolve(false)
    const { promise, resolve, reject } = Promise.withResolvers<boolean>()
    if (this.questions.length === 0) queueMicrotask(() => { this.answerQuestions() })
    this.questions.push({ keys: buckets.map(b => refKey('r', cid, b)), resolve, reject })
    return promise
  }

  private answerQuestions (): void {
    const batch = this.questions
    this.questions = []
    // a store that throws instead of rejecting must not throw out of a microtask
    let lookup: Promise<Array<string | undefined>>
    try {
      lookup = this.kv.getMany(batch.flatMap(q => q.keys))
    } catch (err) {
      lookup = Promise.reject(err)
    }
    lookup.then((values) => {
      let at = 0
      for (const q of batch) {
        let found = false
        for (let i = 0; i < q.keys.length; i++) if (values[at + i] !== undefined) found = true
        at += q.keys.length
        q.resolve(found)
      }
    }, (err: Error) => { for (const q of batch) q.reject(err) })
  }
}

async function * cidsOf (blocks: AsyncIterable<{ cid: CID }>): AsyncIterable<CID> {
  for await (const block of blocks) yield block.cid
}
