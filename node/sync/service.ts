/**
 * The sync service of a running node: wires the allow lists, the reverse index, the head
 * protocol, the bucket topics and the DHT to the libp2p host, runs one sync at a time per
 * bucket (gossip, the fallback poll and `rok sync` all go through it) and keeps what
 * `rok status` shows.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { GossipSub, Message } from '@libp2p/gossipsub'
import type { ContentRouting, PeerId } from '@libp2p/interface'
import { parseCid, type CID } from '../../protocol/cid.ts'
import { RokError, isRokError } from '../../protocol/errors.ts'
import { decodeVersionRecord, type EncodedRecord } from '../../protocol/record.ts'
import type {
  PublishBody, PublishOutcome, PublishRegistryOutcome, RegistryLinkStatus, SubscriptionStatus, SyncPeerShare, SyncReport, SyncStatus
} from '../../protocol/node-api.ts'
import type { Engine, SnapshotRequest } from '../engine.ts'
import type { ChunkExchange } from '../p2p/exchange/index.ts'
import { offsetOf } from './batch-order.ts'
import {
  FELLOW_LOOKUP_MS, FELLOW_REFRESH_MS, FIND_PROVIDERS_TIMEOUT_MS, MAX_PROVIDERS, POLL_INTERVAL_MS, PROVIDE_TIMEOUT_MS
} from './constants.ts'
import { SyncErrorCode } from './errors.ts'
import { announceHead, askHead, serveAnnouncements, serveHead, type HeadHost } from './head.ts'
import { explainUnreachable } from './reach.ts'
import { peerOfAddr, type Subscription } from './subscriptions.ts'
import { Swarms } from './swarm.ts'
import { announcementValidator, bucketOfTopic, topicOf } from './topic.ts'
import { OBJECT_STORE_SOURCE, syncChain, type FetchPeer, type SyncEvent, type VersionSwarm } from './version-sync.ts'

/** What the service uses of the libp2p host. */
export interface SyncHost extends HeadHost {
  peerId: PeerId
  services: { pubsub: GossipSub, exchange: Pick<ChunkExchange, 'fetchBlocks' | 'serveStats'> }
  contentRouting: Pick<ContentRouting, 'provide' | 'findProviders'>
  getConnections: () => Array<{ remotePeer: PeerId }>
  dial: (peer: PeerId | ReturnType<typeof multiaddr>, options?: { signal?: AbortSignal }) => Promise<unknown>
}

/**
 * What sync uses of the node's registry link (node/registry): grants peers presented,
 * recording published versions, resolving a bucket for a subscription without an
 * address, and presenting this node's grants before fetching.
 */
export interface SyncRegistry {
  grantedBuckets: (peer: string) => string[]
  recordVersion: (bucket: string, seq: number, record: Uint8Array, options?: { signal?: AbortSignal }) => Promise<PublishRegistryOutcome>
  announce: (bucket: string, seq: number) => void
  resolve: (bucket: string, options?: { signal?: AbortSignal }) => Promise<{ publisher: string, addr: string, providers: string[] }>
  tryGrant: (bucket: string, options?: { signal?: AbortSignal }) => Promise<boolean>
  forget: (bucket: string) => Promise<void>
  hasGrant: (bucket: string) => boolean
  present: (peer: FetchPeer, bucket: string, options?: { signal?: AbortSignal }) => Promise<boolean>
  status: () => Promise<RegistryLinkStatus>
}

export interface SyncServiceInit {
  /** The registry link; without it buckets are served by allow list only and subscribing needs an address. */
  registry?: SyncRegistry
  engine: Pick<Engine, 'store' | 'buckets' | 'sync' | 'peerId' | 'snapshot' | 'candidates' | 'tier'>
  host: SyncHost
  /** Ask peers for the head of every subscription this often. @default POLL_INTERVAL_MS (30 s) */
  pollInterval?: number
  /** Bytes per second a sync may receive. @default unlimited */
  maxDownloadRate?: number
  /** Chunk bytes per sync batch (flushed after each). @default CHUNK_BATCH_BYTES (8 MiB) */
  batchBytes?: number
  /**
   * Called once a publish's version is recorded, before subscribers are told of it: the
   * daemon collects what the snapshot left there, so that pause (~75 ms after 1 GiB) does
   * not fall on the subscribers' first requests.
   */
  afterSnapshot?: () => void
  log?: (message: string) => void
}

type Why = SyncPeerShare['why']

/** Why one peer gave no head: it could not be reached, it had nothing for us, or something else failed. */
interface HeadFailure { key: string, kind: 'unreachable' | 'refused' | 'other', message: string }

interface BucketState {
  state: 'idle' | 'syncing' | 'error'
  remoteHead: number
  progress?: SubscriptionStatus['progress']
  last?: SyncReport
  error?: { code: string, message: string }
  /** The chain of runs: one sync at a time per bucket. */
  tail: Promise<unknown>
  /** Set while a background sync is queued, so gossip bursts do not queue many. */
  queued: boolean
  controller: AbortController
}

export class SyncService {
  private readonly engine: SyncServiceInit['engine']
  private readonly host: SyncHost
  private readonly init: SyncServiceInit
  private readonly states = new Map<string, BucketState>()
  /** Publisher per followed bucket (for topic validators); ourselves for buckets we publish. */
  private readonly publishers = new Map<string, string>()
  private readonly stopController = new AbortController()
  private pollTimer: NodeJS.Timeout | undefined
  private unhandleHead: (() => Promise<void>) | undefined
  private unhandleAnnounce: (() => Promise<void>) | undefined
  private unhandleHave: (() => Promise<void>) | undefined
  private readonly swarms: Swarms
  private readonly onGossip = (evt: CustomEvent<Message>): void => { this.gossip(evt.detail) }

  constructor (init: SyncServiceInit) {
    this.init = init
    this.engine = init.engine
    this.host = init.host
    this.swarms = new Swarms({
      host: init.host,
      self: init.engine.peerId,
      servable: (peer, bucket) => this.servable(peer).includes(bucket),
      head: async (bucket) => (await this.engine.buckets.head(bucket))?.cid,
      log: (message) => { this.log(message) }
    })
  }

  /** The exchange's authorize hook: does a bucket `peer` may receive reference `cid`? */
  // not async: the exchange asks once per served block, and a wrapper is a promise more each time
  readonly authorize = (peer: PeerId, cid: CID): Promise<boolean> => this.engine.sync.refs.referencedByAny(cid, this.servable(peer.toString()))

  /** Buckets `peer` may receive: its allow lists plus the unexpired grants it presented. */
  private servable (peer: string): string[] {
    const allowed = this.engine.sync.allow.bucketsFor(peer)
    const granted = this.init.registry?.grantedBuckets(peer) ?? []
    return granted.length === 0 ? allowed : [...new Set([...allowed, ...granted])]
  }

  async start (): Promise<void> {
    const { buckets, sync, store } = this.engine
    // versions recorded while no daemon ran (rok snapshot on the home) are indexed now;
    // damaged ones (rok verify --repair) may lack manifest nodes: their sync indexes them
    for await (const v of buckets.all()) {
      if (await sync.refs.state(v.bucket, v.cid) === 'unindexed') {
        const entry = await buckets.get(v.bucket, v.seq)
        await sync.refs.addVersion(v.bucket, v.cid, entry.record.root, async cid => await store.get(cid))
      }
    }
    this.unhandleHead = await serveHead(this.host, {
      resolve: async (peer, bucket) => {
        if (!sync.allow.isAllowed(bucket, peer) && this.init.registry?.grantedBuckets(peer).includes(bucket) !== true) return undefined
        const head = await buckets.head(bucket)
        return head === undefined ? undefined : await store.get(head.cid)
      },
      onError: (peer, err) => { this.log(`head request from ${peer} failed: ${err.message}`) }
    })
    this.unhandleAnnounce = await serveAnnouncements(this.host, {
      onRecord: (peer, bytes) => { this.announced(bytes, `an announcement from ${peer}`) },
      onError: (peer, err) => { this.log(`announcement from ${peer} failed: ${err.message}`) }
    })
    this.unhandleHave = await this.swarms.start()
    this.host.services.pubsub.addEventListener('message', this.onGossip)
    for (const summary of await buckets.list()) {
      const head = await buckets.head(summary.bucket)
      if (head?.record.publisher === this.engine.peerId) this.follow(summary.bucket, this.engine.peerId)
    }
    for (const sub of await sync.subscriptions.list()) {
      this.follow(sub.bucket, sub.publisher)
      this.dialPublisher(sub)
      this.trigger(sub.bucket)
    }
    const interval = this.init.pollInterval ?? POLL_INTERVAL_MS
    this.pollTimer = setInterval(() => { void this.poll() }, interval)
    this.pollTimer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.pollTimer)
    this.stopController.abort(new RokError('ERR_ABORTED', 'the node is stopping'))
    for (const s of this.states.values()) s.controller.abort(new RokError('ERR_ABORTED', 'the node is stopping'))
    this.host.services.pubsub.removeEventListener('message', this.onGossip)
    await Promise.allSettled([...this.states.values()].map(async s => await s.tail))
    await this.unhandleHead?.()
    await this.unhandleAnnounce?.()
    await this.unhandleHave?.()
  }

  // ---- publishing ----

  async publish (body: PublishBody, options: Pick<SnapshotRequest, 'signal' | 'onProgress'> = {}): Promise<PublishOutcome> {
    const { buckets, sync } = this.engine
    if (await sync.subscriptions.get(body.bucket) !== undefined) {
      throw new RokError(SyncErrorCode.NOT_PUBLISHER, `this node subscribes to ${body.bucket}; only its publisher can publish it ('rok unsubscribe ${body.bucket}' first to publish a bucket of your own)`)
    }
    const head = await buckets.head(body.bucket)
    if (head !== undefined && head.record.publisher !== this.engine.peerId) {
      throw new RokError(SyncErrorCode.NOT_PUBLISHER, `${body.bucket} here was published by ${head.record.publisher}, not this node`)
    }
    const outcome = await this.engine.snapshot(body.path, { bucket: body.bucket, message: body.message, signal: options.signal, onProgress: options.onProgress })
    this.follow(body.bucket, this.engine.peerId)
    const entry = await buckets.get(body.bucket, outcome.seq)
    const bytes = await this.engine.store.get(entry.cid)
    this.init.afterSnapshot?.()
    const [announcedTo, provided, registry] = await Promise.all([
      this.announce(body.bucket, bytes),
      this.provide(entry.cid),
      this.init.registry?.recordVersion(body.bucket, outcome.seq, bytes, { signal: options.signal })
    ])
    return {
      ...outcome,
      announcedTo,
      provided,
      allowed: sync.allow.peers(body.bucket),
      ...(registry !== undefined ? { registry } : {})
    }
  }

  /**
   * Push a new head to the peers this node serves the bucket to (its allow list, and
   * connected peers that presented a grant for it), each over its own stream: unlike a
   * gossip topic, a peer that may not see the bucket never learns of the version. Returns
   * the peers that took it; the others catch up when they poll.
   */
  private async announce (bucket: string, bytes: Uint8Array): Promise<string[]> {
    const targets = new Set(this.engine.sync.allow.peers(bucket))
    for (const c of this.host.getConnections()) {
      const key = c.remotePeer.toString()
      if (this.init.registry?.grantedBuckets(key).includes(bucket) === true) targets.add(key)
    }
    targets.delete(this.engine.peerId)
    const told = await Promise.all([...targets].map(async key => {
      try {
        await announceHead(this.host, peerIdFromString(key), bytes, { signal: this.stopController.signal })
        return key
      } catch (err) {
        this.log(`announcing ${bucket} to ${key} failed (it catches up when it polls): ${(err as Error).message}`)
        return undefined
      }
    }))
    return told.filter(k => k !== undefined).sort()
  }

  // ---- following ----

  /** Follow `bucket` from the publisher at `addr`, or (without `addr`) as the registry resolves it. */
  async subscribe (bucket: string, addr: string | undefined, now: number, options: { signal?: AbortSignal } = {}): Promise<SubscriptionStatus> {
    const { sync, buckets } = this.engine
    let providers: string[] = []
    if (addr === undefined) {
      if (this.init.registry === undefined) {
        throw new RokError(SyncErrorCode.NO_REGISTRY, `this node runs without a registry: give the publisher's address ('rok subscribe ${bucket} --peer ADDR') or start the node with --registry URL`)
      }
      const resolved = await this.init.registry.resolve(bucket, options)
      addr = resolved.addr
      providers = resolved.providers
    } else {
      // subscribing by address still asks the registry for a grant (when there is one), so
      // peers that trust the registry serve us too; without it their allow lists decide
      await this.init.registry?.tryGrant(bucket, options)
    }
    const publisher = peerOfAddr(addr)
    if (publisher === this.engine.peerId) {
      throw new RokError(SyncErrorCode.INVALID_PEER, 'that address is this node: subscribe to a bucket published by another node')
    }
    const head = await buckets.head(bucket)
    if (head !== undefined && head.record.publisher !== publisher) {
      throw new RokError(SyncErrorCode.WRONG_PUBLISHER, `${bucket} here comes from ${head.record.publisher}, not ${publisher}`)
    }
    const existing = await sync.subscriptions.get(bucket)
    const sub = await sync.subscriptions.add(bucket, addr, existing?.since ?? now)
    this.follow(bucket, sub.publisher)
    this.dialPublisher(sub)
    for (const p of providers) this.dialPeer(p, bucket)
    this.trigger(bucket)
    return await this.describe(sub)
  }

  async unsubscribe (bucket: string): Promise<{ bucket: string, removed: boolean }> {
    const removed = await this.engine.sync.subscriptions.remove(bucket)
    await this.init.registry?.forget(bucket)
    const state = this.states.get(bucket)
    state?.controller.abort(new RokError('ERR_ABORTED', `unsubscribed from ${bucket}`))
    this.states.delete(bucket)
    if (this.publishers.get(bucket) !== this.engine.peerId) {
      this.publishers.delete(bucket)
      this.host.services.pubsub.unsubscribe(topicOf(bucket))
      this.host.services.pubsub.topicValidators.delete(topicOf(bucket))
    }
    return { bucket, removed }
  }

  /** One-shot sync, waiting for it (after any sync of the bucket already running). */
  async syncNow (bucket: string, options: { signal?: AbortSignal, onProgress?: (e: SyncEvent) => void } = {}): Promise<SyncReport> {
    const sub = await this.engine.sync.subscriptions.get(bucket)
    if (sub === undefined) throw new RokError(SyncErrorCode.NOT_SUBSCRIBED, `${bucket} is not subscribed here: 'rok subscribe ${bucket} --peer ADDR' first`, { details: { bucket } })
    const state = this.state(bucket)
    const run = state.tail.catch(() => {}).then(async () => await this.syncOnce(sub, undefined, options))
    state.tail = run.catch(() => {})
    return await run
  }

  async allow (bucket: string, peer: string): Promise<{ bucket: string, peers: string[] }> {
    return { bucket, peers: await this.engine.sync.allow.allow(bucket, peer) }
  }

  async deny (bucket: string, peer: string): Promise<{ bucket: string, peers: string[] }> {
    return { bucket, peers: await this.engine.sync.allow.deny(bucket, peer) }
  }

  async status (): Promise<SyncStatus> {
    const subs = await this.engine.sync.subscriptions.list()
    const published = []
    for (const [bucket, publisher] of this.publishers) {
      if (publisher !== this.engine.peerId) continue
      const head = await this.engine.buckets.head(bucket)
      published.push({ bucket, head: head?.seq ?? 0, allowed: this.engine.sync.allow.peers(bucket) })
    }
    const served = this.host.services.exchange.serveStats()
    const registry = await this.init.registry?.status()
    return {
      peerId: this.engine.peerId,
      ...(registry !== undefined ? { registry } : {}),
      subscriptions: await Promise.all(subs.map(async s => await this.describe(s))),
      published,
      served: { blocks: served.blocks, bytes: served.bytes, refused: served.refused, streams: served.streams, maxUploadRate: served.maxUploadRate }
    }
  }

  // ---- internals ----

  private follow (bucket: string, publisher: string): void {
    const topic = topicOf(bucket)
    this.publishers.set(bucket, publisher)
    const pubsub = this.host.services.pubsub
    if (!pubsub.topicValidators.has(topic)) pubsub.topicValidators.set(topic, announcementValidator(bucket, b => this.publishers.get(b)))
    if (!pubsub.getTopics().includes(topic)) pubsub.subscribe(topic)
  }

  private dialPublisher (sub: Subscription): void {
    this.host.dial(multiaddr(sub.addr), { signal: AbortSignal.any([this.stopController.signal, AbortSignal.timeout(10_000)]) })
      .catch((err: Error) => { this.log(`publisher of ${sub.bucket} not reachable at ${sub.addr}: ${err.message}`) })
  }

  /** Connect to a provider the registry named, so head requests and the exchange reach it. */
  private dialPeer (addr: string, bucket: string): void {
    let ma
    try {
      ma = multiaddr(addr)
    } catch {
      return
    }
    this.host.dial(ma, { signal: AbortSignal.any([this.stopController.signal, AbortSignal.timeout(10_000)]) })
      .catch((err: Error) => { this.log(`provider of ${bucket} not reachable at ${addr}: ${err.message}`) })
  }

  /**
   * Present this node's grant for `bucket` to `peer` once per sync run (a no-op without a
   * registry grant); a peer that refuses it still may serve us by its allow list.
   */
  private async presentGrant (bucket: string, key: string, peer: FetchPeer, presented: Set<string>, signal: AbortSignal): Promise<void> {
    const registry = this.init.registry
    if (registry === undefined || presented.has(key) || !registry.hasGrant(bucket)) return
    presented.add(key)
    try {
      await registry.present(peer, bucket, { signal })
    } catch (err) {
      signal.throwIfAborted()
      this.log(`presenting the grant for ${bucket} to ${key} failed: ${(err as Error).message}`)
    }
  }

  private state (bucket: string): BucketState {
    let s = this.states.get(bucket)
    if (s === undefined) {
      s = { state: 'idle', remoteHead: 0, tail: Promise.resolve(), queued: false, controller: new AbortController() }
      this.states.set(bucket, s)
    }
    return s
  }

  /** Queue a background sync of `bucket` (a gossip hint skips the head request). */
  private trigger (bucket: string, hint?: EncodedRecord): void {
    const state = this.state(bucket)
    if (hint !== undefined) state.remoteHead = Math.max(state.remoteHead, hint.record.seq)
    if (state.queued) return
    state.queued = true
    state.tail = state.tail.catch(() => {}).then(async () => {
      state.queued = false
      const sub = await this.engine.sync.subscriptions.get(bucket)
      if (sub === undefined || state.controller.signal.aborted) return
      await this.syncOnce(sub, hint, { signal: state.controller.signal })
    }).catch((err: Error) => {
      if (!this.stopController.signal.aborted) this.log(`sync of ${bucket} failed: ${err.message}`)
    })
  }

  private async poll (): Promise<void> {
    for (const sub of await this.engine.sync.subscriptions.list()) this.trigger(sub.bucket)
  }

  /** A gossip message from a node that still announces on the topic: handled as a pushed announcement. */
  private gossip (message: Message): void {
    const bucket = bucketOfTopic(message.topic)
    if (bucket === undefined || this.publishers.get(bucket) === this.engine.peerId) return
    this.announced(message.data, `a message on ${message.topic}`, bucket)
  }

  /** A version record pushed to us: sync at once if it is a newer version of a bucket we follow, from its publisher. */
  private announced (bytes: Uint8Array, from: string, topicBucket?: string): void {
    decodeVersionRecord(bytes).then(async encoded => {
      const bucket = encoded.record.bucket
      if (topicBucket !== undefined && topicBucket !== bucket) return
      const sub = await this.engine.sync.subscriptions.get(bucket)
      if (sub === undefined || encoded.record.publisher !== sub.publisher) return
      const head = await this.engine.buckets.head(bucket)
      if (head !== undefined && head.seq >= encoded.record.seq) return
      this.trigger(bucket, encoded)
    }).catch((err: Error) => { this.log(`bad record in ${from}: ${err.message}`) })
  }

  private async syncOnce (sub: Subscription, hint: EncodedRecord | undefined, options: { signal?: AbortSignal, onProgress?: (e: SyncEvent) => void }): Promise<SyncReport> {
    const state = this.state(sub.bucket)
    const started = performance.now()
    const signal = AbortSignal.any([this.stopController.signal, state.controller.signal, ...(options.signal !== undefined ? [options.signal] : [])])
    state.state = 'syncing'
    state.error = undefined
    const why = new Map<string, Why>([[sub.publisher, 'publisher']])
    const presented = new Set<string>()
    try {
      const holders = new Map<string, FetchPeer>()
    const target = hint ?? await this.findHead(sub, why, holders, presented, signal)
      state.remoteHead = Math.max(state.remoteHead, target.record.seq)
      const peers = new Map<string, FetchPeer>([[sub.publisher, this.isConnected(sub.publisher) ? peerIdFromString(sub.publisher) : multiaddr(sub.addr)]])
      // peers that answered the head hold that version: ask them from the start
      for (const [key, peer] of holders) if (!peers.has(key)) peers.set(key, peer)
      for (const p of this.host.services.pubsub.getSubscribers(topicOf(sub.bucket))) {
        const key = p.toString()
        if (!peers.has(key)) { peers.set(key, p); why.set(key, 'subscriber') }
      }
      await Promise.all([...peers].map(async ([key, peer]) => { await this.presentGrant(sub.bucket, key, peer, presented, signal) }))
      const head = await this.engine.buckets.head(sub.bucket)
      const behind = head === undefined || head.seq < target.record.seq
      let lookup: Promise<void> | undefined
      const lookFor = (): void => {
        lookup ??= this.findProviders(sub.bucket, target.cid, peers, why, presented, signal).finally(() => { lookup = undefined })
      }
      if (behind) lookFor()
      // fellow subscribers appear while the sync runs (they start it too): look for them as it goes
      let ticks = 0
      const refresh = setInterval(() => {
        this.addFellows(sub, peers, why, presented, signal)
        if (behind && ++ticks % Math.max(1, Math.round(FELLOW_LOOKUP_MS / FELLOW_REFRESH_MS)) === 0) lookFor()
      }, FELLOW_REFRESH_MS)
      // a gc lease: blocks this sync finds present are not swept under it (node/policy/candidates.ts)
      const releaseLease = this.engine.candidates.lease()
      let report
      try {
        report = await syncChain(target, sub.publisher, {
          store: this.engine.store,
          buckets: this.engine.buckets,
          refs: this.engine.sync.refs,
          fetch: explainUnreachable(this.host, async (cids, o) => await this.host.services.exchange.fetchBlocks(cids, o)),
          peers: () => [...peers.values()],
          swarm: (version, chunks) => this.joinSwarm(sub, version, chunks, target, holders, peers, why, presented, signal),
          offset: offsetOf(this.engine.peerId),
          signal,
          maxRate: this.init.maxDownloadRate,
          batchBytes: this.init.batchBytes,
          // blocks no peer has come from the node's object-storage tier, when it has one
          fallback: this.engine.tier === undefined ? undefined : async (cids, s) => await this.engine.tier!.fillMissing(cids, { signal: s }),
          onProgress: (event) => {
            if (event.type === 'sync:version:start') {
              state.progress = { seq: event.seq, size: event.size, walkedBytes: 0, bytes: 0, storedBytes: 0 }
              // from now on this node holds part of the version and serves it: fellows may find it here
              void this.provide(parseCid(event.cid))
            } else if (event.type === 'sync:batch:stored') state.progress = { seq: event.seq, size: event.size, walkedBytes: event.walkedBytes, bytes: event.bytes, storedBytes: event.storedBytes }
            else if (event.type === 'sync:versions:skipped') this.log(`${event.bucket}@${event.fromSeq}..${event.toSeq} are served by no peer any more (forgotten by the publisher): skipped, syncing the newest versions`)
            else if (event.type === 'sync:version:healed') this.log(`${event.bucket}@${event.seq}, marked damaged by rok verify --repair, is whole again`)
            else if (event.type === 'sync:version:unhealed') this.log(`${event.bucket}@${event.seq} stays damaged: ${event.message}`)
            options.onProgress?.(event)
          }
        })
      } finally {
        clearInterval(refresh)
        releaseLease()
      }
      const result: SyncReport = {
        ...report,
        seconds: (performance.now() - started) / 1000,
        peers: report.peers.map(p => ({ ...p, why: p.peer === OBJECT_STORE_SOURCE ? 'object-store' : why.get(p.peer) ?? 'provider' }))
      }
      state.state = 'idle'
      state.progress = undefined
      if (report.versions > 0) {
        state.last = result
        void this.provide(target.cid)
        this.init.registry?.announce(sub.bucket, report.toSeq)
      }
      return result
    } catch (err) {
      state.state = 'error'
      state.error = isRokError(err) ? { code: err.code, message: err.message } : { code: SyncErrorCode.SYNC_FAILED, message: (err as Error).message }
      throw err
    }
  }

  /**
   * Add the fellow subscribers this node knows of now to a sync's peers: those the gossip
   * topic shows, and connected peers that presented a registry grant for the bucket (they
   * sync it). A peer merely on the allow list is not one: it may never have subscribed.
   * Each new one is shown this node's grant.
   */
  private addFellows (sub: Subscription, peers: Map<string, FetchPeer>, why: Map<string, Why>, presented: Set<string>, signal: AbortSignal): void {
    const found = new Map<string, PeerId>()
    for (const p of this.host.services.pubsub.getSubscribers(topicOf(sub.bucket))) found.set(p.toString(), p)
    for (const c of this.host.getConnections()) {
      const key = c.remotePeer.toString()
      if (!found.has(key) && this.init.registry?.grantedBuckets(key).includes(sub.bucket) === true) found.set(key, c.remotePeer)
    }
    for (const [key, peer] of found) {
      if (peers.has(key) || key === this.engine.peerId) continue
      peers.set(key, peer)
      why.set(key, 'subscriber')
      void this.presentGrant(sub.bucket, key, peer, presented, signal)
    }
  }

  /**
   * Join the swarm of `version`: each fellow that speaks in it joins the sync's peers (and is
   * shown this node's grant); the peers that answered the head with the target hold all of it.
   */
  private joinSwarm (sub: Subscription, version: EncodedRecord, chunks: number, target: EncodedRecord, holders: Map<string, FetchPeer>, peers: Map<string, FetchPeer>,
    why: Map<string, Why>, presented: Set<string>, signal: AbortSignal): VersionSwarm {
    const session = this.swarms.join(sub.bucket, version.cid, chunks, sub.publisher, (key) => {
      if (peers.has(key)) return
      const peer = peerIdFromString(key)
      peers.set(key, peer)
      why.set(key, 'subscriber')
      void this.presentGrant(sub.bucket, key, peer, presented, signal)
    })
    if (version.cid.equals(target.cid)) {
      for (const key of holders.keys()) if (key !== sub.publisher) session.view.update(key, [{ start: 0, end: chunks, state: 'stored' }])
    }
    return { ...session, view: session.view, self: this.engine.peerId, peer: (key) => peers.get(key) ?? peerIdFromString(key) }
  }

  /** The newest head among the publisher and the peers around, verified and from the right publisher. */
  private async findHead (sub: Subscription, why: Map<string, Why>, holders: Map<string, FetchPeer>, presented: Set<string>, signal: AbortSignal): Promise<EncodedRecord> {
    const asks: Array<{ key: string, peer: FetchPeer }> = [{ key: sub.publisher, peer: this.isConnected(sub.publisher) ? peerIdFromString(sub.publisher) : multiaddr(sub.addr) }]
    const others = new Set<string>()
    for (const p of this.host.services.pubsub.getSubscribers(topicOf(sub.bucket))) others.add(p.toString())
    for (const c of this.host.getConnections()) others.add(c.remotePeer.toString())
    others.delete(sub.publisher)
    for (const key of [...others].slice(0, 8)) {
      asks.push({ key, peer: peerIdFromString(key) })
      if (!why.has(key)) why.set(key, 'subscriber')
    }
    const failures: HeadFailure[] = []
    const answers = await Promise.all(asks.map(async ({ key, peer }) => {
      try {
        await this.presentGrant(sub.bucket, key, peer, presented, signal)
        const bytes = await askHead(this.host, peer, sub.bucket, { signal })
        if (bytes === undefined) { failures.push({ key, kind: 'refused', message: 'has no version for this node (not allowed, or none yet)' }); return undefined }
        const encoded = await decodeVersionRecord(bytes)
        if (encoded.record.bucket !== sub.bucket || encoded.record.publisher !== sub.publisher) { failures.push({ key, kind: 'other', message: 'answered a record of another bucket or publisher' }); return undefined }
        return { key, peer, encoded }
      } catch (err) {
        const unreachable = isRokError(err) && err.code === SyncErrorCode.PEER_UNREACHABLE
        failures.push({ key, kind: unreachable ? 'unreachable' : 'other', message: (err as Error).message })
        return undefined
      }
    }))
    signal.throwIfAborted()
    let best: EncodedRecord | undefined
    for (const a of answers) if (a !== undefined && (best === undefined || a.encoded.record.seq > best.record.seq)) best = a.encoded
    for (const a of answers) if (a !== undefined && best !== undefined && a.encoded.record.seq >= best.record.seq) holders.set(a.key, a.peer)
    if (best === undefined) throw this.noHead(sub, failures)
    return best
  }

  /** ERR_NO_HEAD saying what each peer did, with the fix that fits: start the peer, or allow this node. */
  private noHead (sub: Subscription, failures: HeadFailure[]): RokError {
    const said = failures.map(f => f.kind === 'unreachable' ? f.message : `${f.key} ${f.message}`).join('; ')
    let fix: string
    if (failures.some(f => f.kind === 'refused')) {
      fix = this.init.registry?.hasGrant(sub.bucket) === true
        ? 'this node holds a registry grant; the peers may not have reached the registry yet to pin its key'
        : `the publisher must 'rok allow ${sub.bucket} ${this.engine.peerId}', or subscribe through the registry`
    } else if (failures.every(f => f.kind === 'unreachable')) {
      fix = `no peer could be reached: start the publisher's node ('rok node start' there) or, if it moved, subscribe again with its address ('rok subscribe ${sub.bucket} --peer ADDR'); the sync retries by itself`
    } else {
      fix = `'rok sync ${sub.bucket}' retries now; the node also retries by itself`
    }
    return new RokError(SyncErrorCode.NO_HEAD, `no peer gave the head of ${sub.bucket} (${said}); ${fix}`, { details: { bucket: sub.bucket, peers: failures.map(f => ({ peer: f.key, failed: f.kind })) } })
  }

  private async findProviders (bucket: string, cid: CID, peers: Map<string, FetchPeer>, why: Map<string, Why>, presented: Set<string>, signal: AbortSignal): Promise<void> {
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(FIND_PROVIDERS_TIMEOUT_MS)])
    let found = 0
    try {
      for await (const provider of this.host.contentRouting.findProviders(cid, { signal: deadline })) {
        const key = provider.id.toString()
        if (key === this.engine.peerId || peers.has(key)) continue
        peers.set(key, provider.id)
        why.set(key, 'provider')
        // connected, it is asked first for each batch (a fellow holding part of the version)
        this.host.dial(provider.id, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) })
          .then(async () => { await this.presentGrant(bucket, key, provider.id, presented, signal) })
          .catch((err: Error) => { this.log(`provider ${key} of ${bucket} not reachable: ${err.message}`) })
        if (++found >= MAX_PROVIDERS) break
      }
    } catch {
      // a lookup that times out or finds nobody leaves the peers we already have
    }
  }

  private async provide (cid: CID): Promise<boolean> {
    try {
      await this.host.contentRouting.provide(cid, { signal: AbortSignal.any([this.stopController.signal, AbortSignal.timeout(PROVIDE_TIMEOUT_MS)]) })
      return true
    } catch (err) {
      this.log(`providing ${cid.toString()} in the DHT failed: ${(err as Error).message}`)
      return false
    }
  }

  private isConnected (peer: string): boolean {
    return this.host.getConnections().some(c => c.remotePeer.toString() === peer)
  }

  private async describe (sub: Subscription): Promise<SubscriptionStatus> {
    const head = await this.engine.buckets.head(sub.bucket)
    const s = this.states.get(sub.bucket)
    const localHead = head?.seq ?? 0
    const remoteHead = Math.max(s?.remoteHead ?? 0, localHead)
    const damaged = (await this.engine.sync.refs.damaged(sub.bucket)).map(d => d.seq)
    return {
      bucket: sub.bucket,
      publisher: sub.publisher,
      addr: sub.addr,
      since: new Date(sub.since).toISOString(),
      localHead,
      remoteHead,
      lag: remoteHead - localHead,
      ...(damaged.length > 0 ? { damaged } : {}),
      state: s?.state ?? 'idle',
      ...(s?.progress !== undefined ? { progress: s.progress } : {}),
      ...(s?.last !== undefined ? { last: s.last } : {}),
      ...(s?.error !== undefined ? { error: s.error } : {})
    }
  }

  private log (message: string): void {
    this.init.log?.(message)
  }
}
