/**
 * Subscriptions: the buckets this node follows, each with the publisher it trusts (the
 * peer ID in the address given to `rok subscribe`) and that address. Persisted in the
 * `subscriptions` sublevel (key: bucket, value: JSON) so the daemon re-subscribes at start.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { parseBucketName } from '../../protocol/bucket-name.ts'
import { RokError } from '../../protocol/errors.ts'
import { checkPeerId } from './allow.ts'
import { SyncErrorCode } from './errors.ts'
import type { KeyValue } from './kv.ts'

export interface Subscription {
  bucket: string
  /** Peer ID of the bucket's publisher: records signed by anyone else are refused. */
  publisher: string
  /** Where the publisher was reached (a multiaddr ending in /p2p/<publisher>). */
  addr: string
  /** Milliseconds since the epoch. */
  since: number
}

/** The peer ID a multiaddr names with its /p2p/ part. */
export function peerOfAddr (addr: string): string {
  let peer: string | undefined
  try {
    peer = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value
  } catch (cause) {
    throw new RokError(SyncErrorCode.INVALID_PEER, `'${addr.slice(0, 200)}' is not a multiaddr`, { cause })
  }
  if (peer === undefined) {
    throw new RokError(SyncErrorCode.INVALID_PEER, `'${addr.slice(0, 200)}' names no peer: give the publisher's full address ending in /p2p/<peer id> ('rok id' on the publisher prints it)`)
  }
  checkPeerId(peer)
  return peer
}

export class Subscriptions {
  private readonly kv: KeyValue

  constructor (kv: KeyValue) {
    this.kv = kv
  }

  async add (bucket: string, addr: string, now: number): Promise<Subscription> {
    parseBucketName(bucket)
    const sub: Subscription = { bucket, publisher: peerOfAddr(addr), addr, since: now }
    await this.kv.put(bucket, JSON.stringify(sub), { sync: true })
    return sub
  }

  async remove (bucket: string): Promise<boolean> {
    parseBucketName(bucket)
    const had = await this.kv.get(bucket) !== undefined
    if (had) await this.kv.del(bucket, { sync: true })
    return had
  }

  async get (bucket: string): Promise<Subscription | undefined> {
    const v = await this.kv.get(bucket)
    return v === undefined ? undefined : JSON.parse(v) as Subscription
  }

  async list (): Promise<Subscription[]> {
    const out: Subscription[] = []
    for await (const [, v] of this.kv.iterator()) out.push(JSON.parse(v) as Subscription)
    return out
  }
}
