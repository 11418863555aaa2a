/**
 * Allow lists: which peers may receive a bucket (its head, its records, its manifests
 * and chunks). Default closed: a bucket with no entry serves nobody. Persisted in the
 * home's db (`allow` sublevel, key `bucket!peer`) and mirrored in memory, because the
 * exchange asks on every want.
 */
import { parseBucketName } from '../../protocol/bucket-name.ts'
import { publicKeyOfPeerId } from '../../protocol/ed25519.ts'
import { RokError } from '../../protocol/errors.ts'
import { SyncErrorCode } from './errors.ts'
import type { KeyValue } from './kv.ts'

export class AllowList {
  private readonly kv: KeyValue
  private readonly byBucket = new Map<string, Set<string>>()
  private readonly byPeer = new Map<string, Set<string>>()

  private constructor (kv: KeyValue) {
    this.kv = kv
  }

  static async open (kv: KeyValue): Promise<AllowList> {
    const list = new AllowList(kv)
    for await (const [key] of kv.iterator()) {
      const bang = key.lastIndexOf('!')
      list.remember(key.slice(0, bang), key.slice(bang + 1))
    }
    return list
  }

  async allow (bucket: string, peer: string): Promise<string[]> {
    parseBucketName(bucket)
    checkPeerId(peer)
    await this.kv.put(`${bucket}!${peer}`, '', { sync: true })
    this.remember(bucket, peer)
    return this.peers(bucket)
  }

  async deny (bucket: string, peer: string): Promise<string[]> {
    parseBucketName(bucket)
    checkPeerId(peer)
    await this.kv.del(`${bucket}!${peer}`, { sync: true })
    this.byBucket.get(bucket)?.delete(peer)
    this.byPeer.get(peer)?.delete(bucket)
    return this.peers(bucket)
  }

  isAllowed (bucket: string, peer: string): boolean {
    return this.byBucket.get(bucket)?.has(peer) === true
  }

  /** Buckets `peer` may receive. */
  bucketsFor (peer: string): string[] {
    return [...this.byPeer.get(peer) ?? []]
  }

  peers (bucket: string): string[] {
    return [...this.byBucket.get(bucket) ?? []].sort()
  }

  private remember (bucket: string, peer: string): void {
    let peers = this.byBucket.get(bucket)
    if (peers === undefined) this.byBucket.set(bucket, peers = new Set())
    peers.add(peer)
    let buckets = this.byPeer.get(peer)
    if (buckets === undefined) this.byPeer.set(peer, buckets = new Set())
    buckets.add(bucket)
  }
}

export function checkPeerId (peer: string): void {
  try {
    publicKeyOfPeerId(peer)
  } catch (cause) {
    throw new RokError(SyncErrorCode.INVALID_PEER, `'${peer.slice(0, 80)}' is not a Rok peer ID (e.g. 12D3KooW…; 'rok id' on that node prints it)`, { cause, details: { peer: peer.slice(0, 80) } })
  }
}
