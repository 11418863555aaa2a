/**
 * Local buckets: `group/name`, each a linear history of signed versions. The signed
 * record blocks live in the block store; this index maps (bucket, seq) to record CIDs.
 * A version is recorded only after its record block (and everything under it) is durable.
 */
import type { Ed25519Signer } from '../../protocol/ed25519.ts'
import { CID } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { parseBucketName } from '../../protocol/bucket-name.ts'
import { decodeVersionRecord, signVersionRecord, type EncodedRecord, type SignedVersionRecord, type VolumeKind } from '../../protocol/record.ts'
import type { BlockStore } from '../store/types.ts'
import { BucketErrorCode } from './errors.ts'

export { BucketErrorCode } from './errors.ts'

/** The slice of a level (sub)database with string keys and values the buckets need. */
export interface StringIndex {
  get: (key: string) => Promise<string | undefined>
  put: (key: string, value: string, options?: { sync?: boolean }) => Promise<void>
  del: (key: string, options?: { sync?: boolean }) => Promise<void>
  iterator: (options?: { gt?: string, lt?: string, gte?: string, lte?: string, reverse?: boolean, limit?: number }) => AsyncIterable<[string, string]>
}

export interface VersionEntry {
  bucket: string
  seq: number
  cid: CID
  record: SignedVersionRecord
}

export interface BucketSummary {
  bucket: string
  versions: number
  head: number
  updatedAt: number
}

export interface NewVersion {
  root: CID
  kind: VolumeKind
  size: number
  message: string
  createdAt: number
}

export interface BucketsInit {
  index: StringIndex
  store: Pick<BlockStore, 'get' | 'put' | 'flush'>
  key: Ed25519Signer
}

const SEQ_DIGITS = 15

function versionKey (bucket: string, seq: number): string {
  return `v!${bucket}!${String(seq).padStart(SEQ_DIGITS, '0')}`
}

function bucketRange (bucket: string): { gt: string, lt: string } {
  return { gt: `v!${bucket}!`, lt: `v!${bucket}!~` }
}

export class Buckets {
  private readonly index: StringIndex
  private readonly store: BucketsInit['store']
  private readonly key: Ed25519Signer

  constructor (init: BucketsInit) {
    this.index = init.index
    this.store = init.store
    this.key = init.key
  }

  async head (bucket: string): Promise<VersionEntry | undefined> {
    for await (const [key, value] of this.index.iterator({ ...bucketRange(bucket), reverse: true, limit: 1 })) {
      return await this.load(bucket, seqOf(key), value)
    }
    return undefined
  }

  /** A version by number, or the latest when `seq` is undefined. */
  async get (bucket: string, seq?: number): Promise<VersionEntry> {
    parseBucketName(bucket)
    if (seq === undefined) {
      const head = await this.head(bucket)
      if (head === undefined) throw new RokError(BucketErrorCode.BUCKET_NOT_FOUND, `bucket ${bucket} has no versions here; 'rok log' lists local buckets`, { details: { bucket } })
      return head
    }
    const value = await this.index.get(versionKey(bucket, seq))
    if (value === undefined) {
      const head = await this.head(bucket)
      const hint = head === undefined ? `bucket ${bucket} has no versions here` : `${bucket} has versions 1..${head.seq}`
      throw new RokError(BucketErrorCode.VERSION_NOT_FOUND, `version ${bucket}@${seq} not found: ${hint}`, { details: { bucket, seq } })
    }
    return await this.load(bucket, seq, value)
  }

  /** Versions of a bucket, newest first. */
  async * log (bucket: string): AsyncGenerator<VersionEntry> {
    parseBucketName(bucket)
    for await (const [key, value] of this.index.iterator({ ...bucketRange(bucket), reverse: true })) {
      yield await this.load(bucket, seqOf(key), value)
    }
  }

  /** Every version of every bucket. */
  async * all (): AsyncGenerator<{ bucket: string, seq: number, cid: CID }> {
    for await (const [key, value] of this.index.iterator({ gt: 'v!', lt: 'v!~' })) {
      const rest = key.slice(2)
      const bang = rest.lastIndexOf('!')
      yield { bucket: rest.slice(0, bang), seq: Number(rest.slice(bang + 1)), cid: CID.parse(value) }
    }
  }

  async list (): Promise<BucketSummary[]> {
    const out = new Map<string, BucketSummary>()
    for await (const v of this.all()) {
      const s = out.get(v.bucket) ?? { bucket: v.bucket, versions: 0, head: 0, updatedAt: 0 }
      s.versions++
      s.head = Math.max(s.head, v.seq)
      out.set(v.bucket, s)
    }
    for (const s of out.values()) s.updatedAt = (await this.get(s.bucket, s.head)).record.createdAt
    return [...out.values()]
  }

  /** Sign and record the next version of `bucket` (the caller has made its manifest durable). */
  async append (bucket: string, version: NewVersion): Promise<VersionEntry> {
    parseBucketName(bucket)
    const head = await this.head(bucket)
    const encoded = await signVersionRecord({
      bucket,
      seq: (head?.seq ?? 0) + 1,
      parent: head?.cid ?? null,
      root: version.root,
      kind: version.kind,
      size: version.size,
      createdAt: version.createdAt,
      message: version.message
    }, this.key)
    return await this.record(encoded)
  }

  /** Record a signed version (ours, or a synced one whose record was verified). */
  async record (encoded: EncodedRecord): Promise<VersionEntry> {
    const { record, cid, bytes } = encoded
    await this.store.put(cid, bytes)
    await this.store.flush()
    await this.index.put(versionKey(record.bucket, record.seq), cid.toString(), { sync: true })
    return { bucket: record.bucket, seq: record.seq, cid, record }
  }

  async remove (bucket: string, seq: number): Promise<void> {
    await this.index.del(versionKey(bucket, seq), { sync: true })
  }

  private async load (bucket: string, seq: number, cidText: string): Promise<VersionEntry> {
    const cid = CID.parse(cidText)
    const { record } = await decodeVersionRecord(await this.store.get(cid))
    return { bucket, seq, cid, record }
  }
}

function seqOf (key: string): number {
  return Number(key.slice(key.lastIndexOf('!') + 1))
}
