/**
 * The swarm of a version being synced: this node's end of `/rok/have/1.0.0` (wire format in
 * protocol/have.ts). While a sync runs, the node pushes what it holds and fetches of the
 * version to the connected peers it serves the bucket to when it changes, and again after
 * HAVE_REFRESH_MS without a push while it claims a batch (which keeps the claim alive; a
 * statement of stored ranges only needs no refreshing), and reads what they push into a
 * SwarmView. A node that already recorded the version answers a fellow's push with one
 * saying it holds all of it, so a late subscriber learns of it at once.
 *
 * Privacy: a push goes only to peers allowed or granted the bucket, and a push is taken
 * only from them; anyone else's is dropped unread (it could only mislead the order).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import type { CID } from '../../protocol/cid.ts'
import { decodeHave, encodeHave, HAVE_PROTOCOL, MAX_HAVE_BODY, MAX_HAVE_RANGES, type HaveRange } from '../../protocol/have.ts'
import { HAVE_CLAIM_TTL_MS, HAVE_PUSH_DELAY_MS, HAVE_REFRESH_MS, HEAD_SERVE_TIMEOUT_MS } from './constants.ts'
import { pushOneShot, readOneFrame, serveOneShot, type HeadHost } from './head.ts'
import { SwarmView } from './swarm-view.ts'

export interface SwarmsInit {
  host: HeadHost & { getConnections: () => Array<{ remotePeer: PeerId }> }
  /** This node's peer id. */
  self: string
  /** May `peer` see `bucket` here (allow list or a grant it presented)? */
  servable: (peer: string, bucket: string) => boolean
  /** The record CID of the bucket's newest version recorded here. */
  head: (bucket: string) => Promise<CID | undefined>
  log?: (message: string) => void
}

/** One version's swarm, as the sync sees it. */
export interface SwarmSession {
  readonly view: SwarmView
  /** This node's statement now (pushed soon, coalesced with others close in time). */
  advertise: (ranges: HaveRange[]) => void
  /** The sync is over: stop restating; when `complete`, tell the fellows it holds every chunk. */
  close: (complete: boolean) => void
}

interface Live {
  bucket: string
  /** Fellows not pushed to: the publisher. */
  publisher: string
  view: SwarmView
  ranges: HaveRange[]
  timer: NodeJS.Timeout | undefined
  heartbeat: NodeJS.Timeout
  /** When this statement was last pushed (performance.now()). */
  pushed: number
  onFellow: (peer: string) => void
}

/** Answers sent to a fellow per version that this node holds whole, remembered at most this many. */
const MAX_ANSWERED = 4096

export class Swarms {
  private readonly init: SwarmsInit
  private readonly live = new Map<string, Live>()
  /** `peer version` → when this node last told that fellow it holds the version whole. */
  private readonly answered = new Map<string, number>()
  private readonly stopping = new AbortController()

  constructor (init: SwarmsInit) {
    this.init = init
  }

  async start (): Promise<() => Promise<void>> {
    const unhandle = await serveOneShot(this.init.host, HAVE_PROTOCOL, HEAD_SERVE_TIMEOUT_MS, (peer, err) => { this.log(`have push from ${peer} failed: ${err.message}`) },
      async (stream, peer, signal) => { await this.received(peer, await readOneFrame(stream, MAX_HAVE_BODY, signal)) })
    return async () => {
      this.stopping.abort()
      for (const s of this.live.values()) this.end(s)
      this.live.clear()
      await unhandle()
    }
  }

  /** Join the swarm of `version` of `bucket` (with `chunks` chunks); `onFellow` hears of each fellow that speaks. */
  join (bucket: string, version: CID, chunks: number, publisher: string, onFellow: (peer: string) => void): SwarmSession {
    const key = version.toString()
    const view = new SwarmView(chunks, { claimTtlMs: HAVE_CLAIM_TTL_MS })
    const s: Live = {
      bucket,
      publisher,
      view,
      ranges: [],
      timer: undefined,
      pushed: 0,
      // every push costs a stream to each fellow: restate only claims, and only when nothing else was pushed lately
      heartbeat: setInterval(() => {
        if (performance.now() - s.pushed >= HAVE_REFRESH_MS && s.ranges.some(r => r.state === 'fetching')) this.push(s, version)
      }, HAVE_REFRESH_MS / 2),
      onFellow
    }
    s.heartbeat.unref()
    this.live.set(key, s)
    return {
      view,
      advertise: (ranges) => {
        s.ranges = ranges
        s.timer ??= setTimeout(() => { s.timer = undefined; this.push(s, version) }, HAVE_PUSH_DELAY_MS)
      },
      close: (complete) => {
        this.end(s)
        if (this.live.get(key) === s) this.live.delete(key)
        if (complete && chunks > 0) {
          s.ranges = [{ start: 0, end: chunks, state: 'stored' }]
          this.push(s, version)
        }
      }
    }
  }

  private end (s: Live): void {
    clearInterval(s.heartbeat)
    clearTimeout(s.timer)
    s.timer = undefined
  }

  /** Push `s`'s statement to every connected peer this node serves the bucket to (not the publisher: it fetches nothing). */
  private push (s: Live, version: CID): void {
    s.pushed = performance.now()
    const targets = new Map<string, PeerId>()
    for (const c of this.init.host.getConnections()) {
      const key = c.remotePeer.toString()
      if (key !== this.init.self && key !== s.publisher && this.init.servable(key, s.bucket)) targets.set(key, c.remotePeer)
    }
    if (targets.size === 0) return
    const bytes = encodeHave({ bucket: s.bucket, version, chunks: s.view.chunks, ranges: s.ranges.slice(0, MAX_HAVE_RANGES) })
    for (const [key, peer] of targets) this.send(key, peer, bytes)
  }

  private send (key: string, peer: PeerId, bytes: Uint8Array): void {
    pushOneShot(this.init.host, peer, HAVE_PROTOCOL, bytes, { signal: this.stopping.signal })
      .catch((err: Error) => { this.log(`have push to ${key} failed: ${err.message}`) })
  }

  private async received (peer: string, body: Uint8Array): Promise<void> {
    const have = decodeHave(body)
    if (!this.init.servable(peer, have.bucket)) return
    const key = have.version.toString()
    const s = this.live.get(key)
    if (s !== undefined) {
      if (s.bucket !== have.bucket || have.chunks !== s.view.chunks || peer === s.publisher) return
      const known = s.view.knows(peer)
      s.view.update(peer, have.ranges)
      if (!known) s.onFellow(peer)
      return
    }
    // not syncing it: if it is recorded here, say so (once a refresh period per fellow)
    const head = await this.init.head(have.bucket)
    if (head === undefined || !head.equals(have.version) || have.chunks === 0) return
    const answered = `${peer} ${key}`
    const now = Date.now()
    if ((this.answered.get(answered) ?? 0) > now - HAVE_REFRESH_MS) return
    if (this.answered.size >= MAX_ANSWERED) this.answered.clear()
    this.answered.set(answered, now)
    this.send(peer, peerIdFromString(peer), encodeHave({ bucket: have.bucket, version: have.version, chunks: have.chunks, ranges: [{ start: 0, end: have.chunks, state: 'stored' }] }))
  }

  private log (message: string): void {
    this.init.log?.(message)
  }
}
