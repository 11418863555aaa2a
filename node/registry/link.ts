/**
 * The node's link to the registry: pins the registry key, registers the node, records
 * published versions (through the outbox, so a registry outage loses nothing), obtains
 * and renews grants for subscriptions, serves `/rok/grant/1.0.0` and presents held grants
 * to peers. The registry is never on the data path: when it is down, serving (grants
 * verify offline), syncing and restoring go on; only new subscriptions wait.
 */
import type { PeerId, PublicKey } from '@libp2p/interface'
import type { Ed25519Signer } from '../../protocol/ed25519.ts'
import type { Multiaddr } from '@multiformats/multiaddr'
import { RokError, isRokError } from '../../protocol/errors.ts'
import { verifyGrant } from '../../protocol/grant.ts'
import type { PublishRegistryOutcome, RegistryLinkStatus } from '../../protocol/node-api.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { createRegistryClient, type RegistryClient } from '../../registry/client.ts'
import type { HeadHost } from '../sync/head.ts'
import type { KeyValue } from '../sync/kv.ts'
import {
  DEFAULT_PROVIDER_TTL_MS, PROVIDER_REFRESH_FRACTION, PUBLISH_RECORD_TIMEOUT_MS, RENEW_AT_FRACTION, RETRY_MAX_MS, RETRY_MIN_MS, TICK_MS
} from './constants.ts'
import { RegistryLinkErrorCode } from './errors.ts'
import { presentGrant, serveGrants } from './grant-push.ts'
import { HeldGrants } from './held-grants.ts'
import { Outbox } from './outbox.ts'
import { PeerGrants } from './peer-grants.ts'
import { loadPinnedKey, savePinnedKey } from './pin.ts'

export interface RegistryLinkInit {
  /** Registry base URL. */
  url: string
  /** The user's API token (`rok login` saved it in the home). */
  token: string
  home: string
  key: Ed25519Signer
  peerId: string
  /** The node's listen addresses, registered with the registry. */
  addrs: () => string[]
  host: HeadHost
  /** Sublevels of the home's db. */
  outbox: KeyValue
  grants: KeyValue
  /**
   * The buckets this node holds and up to which version, re-announced to the registry
   * before their provider records expire (after a restart too). Without it only syncs announce.
   */
  held?: () => Promise<Array<{ bucket: string, seq: number }>>
  log?: (message: string) => void
  /** @default Date.now */
  now?: () => number
  /** First retry delay. @default RETRY_MIN_MS (1 s) */
  retryMinMs?: number
  /** Longest retry delay (the backoff doubles up to it). @default RETRY_MAX_MS (30 s) */
  retryMaxMs?: number
  /** @default TICK_MS (1 s) */
  tickMs?: number
  /** Injected client (tests). @default createRegistryClient({ url, token }) */
  client?: RegistryClient
}

/** Where a subscription without an address finds its publisher, as the registry says. */
export interface ResolvedBucket {
  publisher: string
  /** The publisher's address, ending in /p2p/<publisher>. */
  addr: string
  /** Other providers' addresses (fellow subscribers holding versions). */
  providers: string[]
}

type ErrorInfo = { code: string, message: string }

class Backoff {
  failures = 0
  next = 0
  error: ErrorInfo | undefined
  private readonly min: number
  private readonly max: number
  constructor (min: number, max: number) {
    this.min = min
    this.max = max
  }

  fail (now: number, err: unknown): void {
    this.error = errorInfo(err)
    this.next = now + Math.min(this.max, this.min * 2 ** this.failures)
    this.failures++
  }

  ok (): void {
    this.failures = 0
    this.next = 0
    this.error = undefined
  }
}

function errorInfo (err: unknown): ErrorInfo {
  return isRokError(err) ? { code: err.code, message: err.message } : { code: 'ERR_REGISTRY_UNAVAILABLE', message: (err as Error).message }
}

export class RegistryLink {
  readonly url: string
  readonly client: RegistryClient
  readonly peerGrants: PeerGrants
  private readonly init: RegistryLinkInit
  private readonly now: () => number
  private readonly held: HeldGrants
  private readonly outbox: Outbox
  private pinned: PublicKey | undefined
  private registered = false
  private delivered = 0
  private readonly connectRetry: Backoff
  private readonly outboxRetry: Backoff
  private readonly renewRetry = new Map<string, Backoff>()
  private delivering: Promise<unknown> = Promise.resolve()
  private ticking = false
  private timer: NodeJS.Timeout | undefined
  private providerTtlMs = DEFAULT_PROVIDER_TTL_MS
  private nextRefresh = 0
  /** Buckets the registry does not know or lets us not provide: not asked again until restart. */
  private readonly unprovidable = new Set<string>()
  private unserve: (() => Promise<void>) | undefined
  private readonly stopController = new AbortController()

  private constructor (init: RegistryLinkInit, held: HeldGrants, outbox: Outbox) {
    this.init = init
    this.now = init.now ?? Date.now
    this.client = init.client ?? createRegistryClient({ url: init.url, token: init.token, now: this.now })
    this.url = this.client.url
    this.held = held
    this.outbox = outbox
    this.peerGrants = new PeerGrants({ registryKey: () => this.pinned, now: this.now })
    this.connectRetry = new Backoff(init.retryMinMs ?? RETRY_MIN_MS, init.retryMaxMs ?? RETRY_MAX_MS)
    this.outboxRetry = new Backoff(init.retryMinMs ?? RETRY_MIN_MS, init.retryMaxMs ?? RETRY_MAX_MS)
  }

  static async open (init: RegistryLinkInit): Promise<RegistryLink> {
    return new RegistryLink(init, await HeldGrants.open(init.grants), await Outbox.open(init.outbox))
  }

  /** Serve the grant protocol, then pin/register in the background (the registry may be down). */
  async start (): Promise<void> {
    this.pinned = (await loadPinnedKey(this.init.home))?.key
    this.unserve = await serveGrants(this.init.host, {
      accept: async (peer, bytes) => (await this.peerGrants.accept(peer, bytes)).expires,
      onRefused: (peer, err) => { this.log(`grant from ${peer} refused: ${err.message}`) }
    })
    this.timer = setInterval(() => { void this.tick() }, this.init.tickMs ?? TICK_MS)
    this.timer.unref()
    void this.tick()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    this.stopController.abort(new RokError('ERR_ABORTED', 'the node is stopping'))
    await this.delivering.catch(() => {})
    await this.unserve?.()
  }

  // ---- serving: what peers presented ----

  /** Buckets `peer` holds a verified, unexpired grant for. */
  grantedBuckets (peer: string): string[] {
    return this.peerGrants.buckets(peer)
  }

  // ---- publishing ----

  /** Queue the version's reference durably, then try to deliver the queue now (briefly). */
  async recordVersion (bucket: string, seq: number, record: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<PublishRegistryOutcome> {
    this.unprovidable.delete(bucket)
    const entry = await this.outbox.add(bucket, seq, record, this.now())
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(PUBLISH_RECORD_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
    await this.deliverOutbox(signal).catch(() => {})
    const oldest = await this.outbox.oldest()
    const recorded = oldest === undefined || oldest.key > entry.key
    return {
      state: recorded ? 'recorded' : 'queued',
      pending: this.outbox.pending,
      ...(!recorded && this.outboxRetry.error !== undefined ? { error: this.outboxRetry.error } : {})
    }
  }

  /** Best effort: tell the registry this node holds `bucket` up to `seq`. */
  announce (bucket: string, seq: number): void {
    this.unprovidable.delete(bucket)
    this.client.announceProvider(bucket, this.init.peerId, seq, { signal: this.stopController.signal })
      .catch((err: Error) => { this.log(`announcing ${bucket}@${seq} to the registry failed: ${err.message}`) })
  }

  // ---- subscribing ----

  /** Ask the registry for a grant (it checks the ACL), the bucket's publisher and its providers. */
  async resolve (bucket: string, options: { signal?: AbortSignal } = {}): Promise<ResolvedBucket> {
    const signal = options.signal
    try {
      if (this.pinned === undefined) await this.connect(signal)
      await this.obtainGrant(bucket, signal)
      const info = await this.client.getBucket(bucket, { signal })
      if (info.latestSeq === 0) throw new RokError(RegistryLinkErrorCode.NO_PROVIDER, `${bucket} has no version in the registry yet; subscribe once its publisher has published`)
      const version = await this.client.getVersion(bucket, info.latestSeq, { signal })
      const { record } = await decodeVersionRecord(version.recordBytes)
      const providers = await this.client.listProviders(bucket, { signal })
      const withPeer = (peer: string, a: string): string => a.includes('/p2p/') ? a : `${a}/p2p/${peer}`
      const publisher = providers.find(p => p.peer === record.publisher)
      if (publisher === undefined || publisher.addresses.length === 0) {
        throw new RokError(RegistryLinkErrorCode.NO_PROVIDER, `the registry knows no address of ${bucket}'s publisher ${record.publisher}`, { details: { bucket } })
      }
      return {
        publisher: record.publisher,
        addr: withPeer(record.publisher, publisher.addresses[0]),
        providers: providers.filter(p => p.peer !== record.publisher && p.peer !== this.init.peerId && p.addresses.length > 0).map(p => withPeer(p.peer, p.addresses[0]))
      }
    } catch (err) {
      if (isRokError(err, 'ERR_REGISTRY_UNAVAILABLE')) {
        throw new RokError(err.code, `${err.message}: new subscriptions wait for the registry (existing ones keep syncing; 'rok subscribe ${bucket} --peer ADDR' reaches a publisher that allows this node directly)`, { cause: err, details: { bucket } })
      }
      throw err
    }
  }

  /**
   * Best effort, for a subscription made by address: obtain (and from then on renew) a
   * grant for `bucket`. False when the registry is down or refuses; peers' allow lists
   * still apply then.
   */
  async tryGrant (bucket: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const signal = AbortSignal.any([this.stopController.signal, AbortSignal.timeout(PUBLISH_RECORD_TIMEOUT_MS), ...(options.signal !== undefined ? [options.signal] : [])])
    try {
      if (!this.registered) await this.connect(signal)
      await this.obtainGrant(bucket, signal)
      return true
    } catch (err) {
      options.signal?.throwIfAborted()
      this.log(`no registry grant for ${bucket} (${(err as Error).message}); peers serve it by their allow lists`)
      return false
    }
  }

  /** The subscription is gone: stop renewing its grant. */
  async forget (bucket: string): Promise<void> {
    if (this.held.get(bucket) !== undefined) await this.held.delete(bucket)
    this.renewRetry.delete(bucket)
  }

  /** Present our grant for `bucket` to `peer` (nothing to do without an unexpired grant). */
  async present (peer: PeerId | Multiaddr, bucket: string, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    const held = this.held.get(bucket)
    if (held === undefined || this.now() >= held.grant.expires) return false
    await presentGrant(this.init.host, peer, held.bytes, { signal: options.signal })
    return true
  }

  hasGrant (bucket: string): boolean {
    const held = this.held.get(bucket)
    return held !== undefined && this.now() < held.grant.expires
  }

  async status (): Promise<RegistryLinkStatus> {
    const oldest = await this.outbox.oldest()
    return {
      url: this.url,
      registered: this.registered,
      keyPinned: this.pinned !== undefined,
      ...(this.connectRetry.error !== undefined ? { error: this.connectRetry.error } : {}),
      outbox: {
        pending: this.outbox.pending,
        delivered: this.delivered,
        ...(oldest !== undefined ? { oldest: { bucket: oldest.bucket, seq: oldest.seq, queuedAt: new Date(oldest.queuedAt).toISOString() } } : {}),
        ...(this.outboxRetry.error !== undefined ? { lastError: this.outboxRetry.error } : {}),
        ...(this.outbox.pending > 0 && this.outboxRetry.next > 0 ? { nextAttemptAt: new Date(this.outboxRetry.next).toISOString() } : {})
      },
      grants: this.held.list().map(h => ({
        bucket: h.bucket,
        rights: [...h.grant.rights],
        expires: new Date(h.grant.expires).toISOString(),
        ...(h.error !== undefined ? { error: h.error } : {})
      }))
    }
  }

  // ---- internals ----

  private async obtainGrant (bucket: string, signal?: AbortSignal): Promise<void> {
    const issued = await this.client.requestGrant(bucket, this.init.peerId, { signal })
    if (this.pinned === undefined) throw new RokError(RegistryLinkErrorCode.NO_REGISTRY_KEY, 'no registry key is pinned yet')
    // checked against the pinned key, not the one the registry just showed
    const grant = await verifyGrant(issued.bytes, this.pinned, this.now())
    await this.held.put(bucket, issued.bytes, grant)
  }

  /** Fetch and pin (or check) the registry key, then register this node. */
  private async connect (signal?: AbortSignal): Promise<void> {
    const key = await this.client.publicKey({ signal })
    if (this.pinned === undefined) {
      await savePinnedKey(this.init.home, { url: this.url, key })
      this.pinned = key
    } else if (!this.pinned.equals(key)) {
      throw new RokError(RegistryLinkErrorCode.REGISTRY_KEY_CHANGED, `the registry at ${this.url} signs with another key than the one pinned in ${this.init.home}/registry-key.json; if the registry was replaced on purpose, remove that file and restart the node`)
    }
    const addrs = this.init.addrs().slice(0, 16)
    await this.client.registerNode(this.init.key, addrs, { signal })
    this.providerTtlMs = (await this.client.info({ signal })).providerTtlMs ?? DEFAULT_PROVIDER_TTL_MS
    this.registered = true
    this.nextRefresh = 0
  }

  private async deliverOutbox (signal: AbortSignal): Promise<void> {
    const run = this.delivering.catch(() => {}).then(async () => {
      if (this.outbox.pending === 0) return
      const report = await this.outbox.deliver(async (entry, s) => { await this.client.appendVersion(entry.bucket, entry.record, { signal: s }) }, signal)
      this.delivered += report.delivered
      if (report.error === undefined) {
        this.outboxRetry.ok()
      } else {
        this.outboxRetry.fail(this.now(), new RokError(report.error.code, `${report.error.bucket}@${report.error.seq}: ${report.error.message}`))
        if (report.error.code !== 'ERR_REGISTRY_UNAVAILABLE') this.log(`the registry refused ${report.error.bucket}@${report.error.seq}: ${report.error.message}`)
      }
      if (report.delivered > 0) this.log(`delivered ${report.delivered} queued version reference(s) to the registry; ${report.pending} left`)
    })
    this.delivering = run
    await run
  }

  private async tick (): Promise<void> {
    if (this.ticking || this.stopController.signal.aborted) return
    this.ticking = true
    const signal = this.stopController.signal
    try {
      const now = this.now()
      if (!this.registered && now >= this.connectRetry.next) {
        try {
          await this.connect(signal)
          this.connectRetry.ok()
        } catch (err) {
          if (signal.aborted) return
          this.connectRetry.fail(this.now(), err)
          if (this.connectRetry.failures === 1 || !isRokError(err, 'ERR_REGISTRY_UNAVAILABLE')) this.log(`registering with ${this.url} failed (retrying): ${(err as Error).message}`)
        }
      }
      if (this.outbox.pending > 0 && this.now() >= this.outboxRetry.next) await this.deliverOutbox(signal).catch(() => {})
      if (this.registered && this.init.held !== undefined && this.now() >= this.nextRefresh) await this.refreshProviders(signal)
      for (const held of this.held.list()) {
        const { issuedAt, expires } = held.grant
        const retry = this.renewRetry.get(held.bucket) ?? new Backoff(this.init.retryMinMs ?? RETRY_MIN_MS, this.init.retryMaxMs ?? RETRY_MAX_MS)
        this.renewRetry.set(held.bucket, retry)
        if (this.now() < issuedAt + (expires - issuedAt) * RENEW_AT_FRACTION || this.now() < retry.next) continue
        try {
          await this.obtainGrant(held.bucket, signal)
          retry.ok()
        } catch (err) {
          if (signal.aborted) return
          retry.fail(this.now(), err)
          this.held.setError(held.bucket, errorInfo(err))
          this.log(`renewing the grant for ${held.bucket} failed: ${(err as Error).message}`)
        }
      }
    } finally {
      this.ticking = false
    }
  }

  /** Re-announce every held bucket so that the registry keeps listing this node as a provider. */
  private async refreshProviders (signal: AbortSignal): Promise<void> {
    const interval = this.providerTtlMs * PROVIDER_REFRESH_FRACTION
    this.nextRefresh = this.now() + interval
    for (const { bucket, seq } of await this.init.held!()) {
      if (this.unprovidable.has(bucket) || seq === 0) continue
      try {
        await this.client.announceProvider(bucket, this.init.peerId, seq, { signal })
      } catch (err) {
        if (signal.aborted) return
        if (isRokError(err, 'ERR_REGISTRY_UNAVAILABLE')) {
          // try again soon rather than after a whole interval, or the records lapse
          this.nextRefresh = this.now() + Math.min(interval, this.init.retryMaxMs ?? RETRY_MAX_MS)
          return
        }
        // a local-only bucket, or one we may not provide; other refusals (say, a version the
        // registry has not recorded yet) are asked again next time
        if (isRokError(err, 'ERR_NOT_FOUND') || isRokError(err, 'ERR_FORBIDDEN')) this.unprovidable.add(bucket)
      }
    }
  }

  private log (message: string): void {
    this.init.log?.(message)
  }
}
