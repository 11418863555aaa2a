/**
 * The block store interface every part uses. A block is either a chunk (raw codec) or a
 * manifest node / version record (dag-cbor codec), always addressed by its CID. Consumers
 * take the smallest slice they need, e.g. `Pick<BlockStore, 'get' | 'has'>`.
 */
import type { CID } from '../../protocol/cid.ts'

export interface StoreOptions {
  signal?: AbortSignal
}

export interface PutManyOptions extends StoreOptions {
  /**
   * The caller found every one of these blocks absent from this store a moment ago, in
   * work that holds a gc lease (a sync plans its fetches with `hasMany`): the store skips
   * its own index lookup (~0.15 CPU-s of a 1 GiB transfer's ~4). A block another writer
   * stored meanwhile is stored again, a dead copy gc reclaims; none is ever lost.
   */
  absent?: boolean
}

export interface ReadIntoOptions extends StoreOptions {
  /** Memory to read `n` bytes into (e.g. recycled by the caller); a new buffer by default. */
  allocate?: (n: number) => Uint8Array
  /**
   * `allocate` returns memory that starts on a page boundary and takes sizes up to a run
   * plus 8 KiB: the store may then read with O_DIRECT, the run's span widened to whole
   * pages, and return blocks that sit inside that memory at an offset.
   */
  pageAligned?: boolean
  /**
   * Find blocks through the tables of contents of the packs read lately before asking
   * the index (pack-tables.ts): for a reader of runs of blocks stored together. Such a
   * read may return a block that gc has unindexed but whose pack is still there.
   */
  packTables?: boolean
  /**
   * Read each run of neighbouring blocks from its first block's pack entry header on, so
   * every block after the first of a run sits right behind its own header in the same
   * memory (pack-format.ts), and the first one too: a sender can pass such a run on as
   * it lies. A store without pack entries ignores it; readers check the headers.
   */
  entryHeaders?: boolean
}

export interface BlockStore {
  /** True when the block's bytes are present and indexed. */
  has: (cid: CID, options?: StoreOptions) => Promise<boolean>
  /**
   * The block's bytes, verified against the CID. Throws ERR_BLOCK_NOT_FOUND when missing
   * and ERR_HASH_MISMATCH when the bytes on disk are corrupt.
   */
  get: (cid: CID, options?: StoreOptions) => Promise<Uint8Array>
  /**
   * Store a block whose bytes the caller has already verified or computed the CID of.
   * Idempotent: a block already present costs no write. Resolves true when it wrote.
   * Durable only after `flush()` resolves. The caller may reuse `bytes` once the promise
   * settles (the exchange receives into recycled memory): a store copies what it keeps.
   */
  put: (cid: CID, bytes: Uint8Array, options?: StoreOptions) => Promise<boolean>
  /**
   * Put many blocks with one index lookup; resolves, per block, whether it was written.
   * As with `put`, the bytes are the caller's again once it settles. Optional: callers
   * fall back to `put` one by one.
   */
  putMany?: (blocks: Array<[CID, Uint8Array]>, options?: PutManyOptions) => Promise<boolean[]>
  /**
   * putMany of blocks that lie back to back in `span`'s first `used` bytes, each right
   * behind its pack entry header (pack-format.ts) and nothing else between them: a RUN's
   * entries as received. The rest of `span` is room the store may write into. A store may
   * write the span as it is instead of copying each block (the disk store does when it
   * starts on a page and ends on one: see startsOnPage). Optional: callers use putMany.
   */
  putRun?: (span: Uint8Array, used: number, blocks: Array<[CID, Uint8Array]>, options?: PutManyOptions) => Promise<boolean[]>
  /**
   * Many blocks' bytes, verified, in the order asked, with one index round-trip and
   * neighbouring blocks read together. Optional: callers fall back to `get`.
   */
  getMany?: (cids: CID[], options?: StoreOptions) => Promise<Uint8Array[]>
  /**
   * getMany without the hash check, into memory the caller owns (each block's ArrayBuffer
   * was allocated for the call, by `options.allocate` when given; neighbours may share one),
   * for a caller that verifies the bytes on another thread before it uses them, or whose
   * reader does (the exchange's peers check every block). Optional.
   */
  getManyUnverified?: (cids: CID[], options?: ReadIntoOptions) => Promise<Uint8Array[]>
  /** Make every put so far durable (data fsynced, then index written). */
  flush: (options?: StoreOptions) => Promise<void>
}
