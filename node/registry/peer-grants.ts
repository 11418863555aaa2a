/**
 * Grants peers presented to this node (`/rok/grant/1.0.0`), verified offline against the
 * pinned registry key and cached per peer until they expire. The exchange's authorize
 * hook and the head server ask `buckets(peer)`; an expired grant simply stops counting,
 * so a right the registry revoked lapses within one grant lifetime. Bounded: at most
 * `maxPeers` peers and `maxPerPeer` buckets each (the oldest entry goes first).
 */
import type { PublicKey } from '@libp2p/interface'
import { RokError } from '../../protocol/errors.ts'
import { grantAllows, verifyGrant, type SignedGrant } from '../../protocol/grant.ts'
import { MAX_GRANT_PEERS, MAX_GRANTS_PER_PEER } from './constants.ts'
import { RegistryLinkErrorCode } from './errors.ts'

export interface PeerGrantsInit {
  /** The pinned registry key, or undefined while none is known. */
  registryKey: () => PublicKey | undefined
  /** @default Date.now */
  now?: () => number
  /** @default MAX_GRANT_PEERS (4096) */
  maxPeers?: number
  /** @default MAX_GRANTS_PER_PEER (256) */
  maxPerPeer?: number
}

export class PeerGrants {
  private readonly init: PeerGrantsInit
  private readonly now: () => number
  /** peer → bucket → expires (ms) */
  private readonly byPeer = new Map<string, Map<string, number>>()

  constructor (init: PeerGrantsInit) {
    this.init = init
    this.now = init.now ?? Date.now
  }

  /** Verify `bytes` as a read grant for `peer` and cache it; throws a RokError with the reason otherwise. */
  async accept (peer: string, bytes: Uint8Array): Promise<SignedGrant> {
    const key = this.init.registryKey()
    if (key === undefined) throw new RokError(RegistryLinkErrorCode.NO_REGISTRY_KEY, 'this node has not pinned a registry key yet, so it cannot check grants')
    const grant = await verifyGrant(bytes, key, this.now())
    if (!grantAllows(grant, peer, grant.bucket, 'read')) {
      throw new RokError(RegistryLinkErrorCode.GRANT_NOT_FOR_PEER, `the grant for ${grant.bucket} is for ${grant.peer}, not ${peer}, or does not carry the read right`, { details: { bucket: grant.bucket, peer } })
    }
    let buckets = this.byPeer.get(peer)
    if (buckets === undefined) {
      this.prune()
      while (this.byPeer.size >= (this.init.maxPeers ?? MAX_GRANT_PEERS)) this.byPeer.delete(this.byPeer.keys().next().value as string)
      this.byPeer.set(peer, buckets = new Map())
    }
    const held = buckets.get(grant.bucket)
    buckets.delete(grant.bucket)
    while (buckets.size >= (this.init.maxPerPeer ?? MAX_GRANTS_PER_PEER)) buckets.delete(buckets.keys().next().value as string)
    buckets.set(grant.bucket, Math.max(held ?? 0, grant.expires))
    return grant
  }

  /** Buckets `peer` holds an unexpired grant for. */
  buckets (peer: string): string[] {
    const buckets = this.byPeer.get(peer)
    if (buckets === undefined) return []
    const now = this.now()
    const out: string[] = []
    for (const [bucket, expires] of buckets) if (now < expires) out.push(bucket)
    return out
  }

  allows (peer: string, bucket: string): boolean {
    const expires = this.byPeer.get(peer)?.get(bucket)
    return expires !== undefined && this.now() < expires
  }

  /** Drop expired entries and peers left with none. */
  prune (): void {
    const now = this.now()
    for (const [peer, buckets] of this.byPeer) {
      for (const [bucket, expires] of buckets) if (now >= expires) buckets.delete(bucket)
      if (buckets.size === 0) this.byPeer.delete(peer)
    }
  }
}
