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
 */
import { base32 } from 'multiformats/bases/base32'
import type { CID } from '../../protocol/cid.ts'
import { manifestBlocks, subtreeRoots, type BlockGetter } from '../snapshot/index.ts'
import { REF_BATCH } from './constants.ts'
import type { KeyValue } from './kv.ts'

export class RefIndex {
  private readonly kv: KeyValue

  constructor (kv: KeyValue) {
    this.kv = kv
  }

  async indexed (bucket: string, record: CID): Promise<boolean> {
    return await this.kv.get(`d!${bucket}!${record.toString()}`) !== undefined
  }

  /**
   * Index every block of a version (its record, manifest nodes, chunks) as referenced by
   * `bucket`. Given the bucket's previous version (`parent`) and that one is fully indexed,
   * the subtrees both share are already indexed and are not walked again: a v2 that
   * changes a few files of a large tree writes the references of what changed only.
   */
  async addVersion (bucket: string, record: CID, root: CID, get: BlockGetter, options: { signal?: AbortSignal, parent?: { record: CID, root: CID } } = {}): Promise<number> {
    if (await this.indexed(bucket, record)) return 0
    const parent = options.parent
    const shared = parent !== undefined && await this.indexed(bucket, parent.record) ? await subtreeRoots(get, parent.root) : new Set<string>()
    const skip = (list: CID): boolean => shared.has(list.toString())
    return await this.addBlocks(bucket, record, (async function * () { for await (const block of manifestBlocks(get, root, skip)) yield block.cid })(), options)
  }

  /**
   * Index `blocks` (a version's manifest nodes and chunks, listed by the caller, as CIDs or
   * CID bytes) and its record as referenced by `bucket`.
   */
  async addBlocks (bucket: string, record: CID, blocks: Iterable<CID | Uint8Array> | AsyncIterable<CID | Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<number> {
    if (await this.indexed(bucket, record)) return 0
    let ops: Array<{ type: 'put', key: string, value: string }> = [{ type: 'put', key: `r!${record.toString()}!${bucket}`, value: '' }]
    let count = 1
    for await (const cid of blocks) {
      // the CID's text (base32, as CID#toString writes a CIDv1) without building a CID per chunk
      ops.push({ type: 'put', key: `r!${cid instanceof Uint8Array ? base32.encode(cid) : cid.toString()}!${bucket}`, value: '' })
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
    let ops: Array<{ type: 'del', key: string }> = [{ type: 'del', key: `d!${bucket}!${record.toString()}` }]
    for await (const cid of cids) {
      ops.push({ type: 'del', key: `r!${cid.toString()}!${bucket}` })
      if (ops.length >= REF_BATCH) { await this.kv.batch(ops); ops = [] }
    }
    await this.kv.batch(ops, { sync: true })
  }

  /** True when one of `buckets` references `cid`. */
  async referencedByAny (cid: CID, buckets: string[]): Promise<boolean> {
    if (buckets.length === 0) return false
    const key = cid.toString()
    const found = await this.kv.getMany(buckets.map(b => `r!${key}!${b}`))
    return found.some(v => v !== undefined)
  }
}
