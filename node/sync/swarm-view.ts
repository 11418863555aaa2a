/**
 * What fellow subscribers said (over `/rok/have/1.0.0`) they hold and fetch of the version
 * this node is syncing: a pure core with an injected clock, read by the batch order.
 *
 * Each push restates a fellow's whole state, so it replaces the last one. A fellow's stored
 * ranges are believed for the whole sync (stored chunks stay; a fellow gone since just
 * fails a fetch and the publisher is asked); its fetching claims lapse when it has not
 * restated them for `claimTtlMs` (a fellow that died or left must not be waited for).
 */
import type { HaveRange } from '../../protocol/have.ts'

export interface SwarmViewInit {
  /** @default Date.now */
  now?: () => number
  /** How long a fetching claim holds without being restated. */
  claimTtlMs: number
}

interface FellowState { ranges: HaveRange[], at: number }

export class SwarmView {
  readonly chunks: number
  private readonly fellows = new Map<string, FellowState>()
  private readonly now: () => number
  private readonly claimTtlMs: number
  private readonly listeners = new Set<() => void>()

  constructor (chunks: number, init: SwarmViewInit) {
    this.chunks = chunks
    this.now = init.now ?? Date.now
    this.claimTtlMs = init.claimTtlMs
  }

  /** A fellow's new statement (ranges validated by the codec: sorted, within `chunks`). */
  update (peer: string, ranges: HaveRange[]): void {
    this.fellows.set(peer, { ranges, at: this.now() })
    for (const listener of this.listeners) listener()
  }

  /** The fellows that have told anything about this version. */
  peers (): string[] {
    return [...this.fellows.keys()]
  }

  get size (): number {
    return this.fellows.size
  }

  /** Fellows whose statement is live and does not hold the whole version: those still fetching. */
  active (): string[] {
    const since = this.now() - this.claimTtlMs
    const out: string[] = []
    for (const [peer, state] of this.fellows) if (state.at >= since && !covers(state.ranges, 0, this.chunks)) out.push(peer)
    return out
  }

  knows (peer: string): boolean {
    return this.fellows.has(peer)
  }

  /** Fellows holding every chunk at positions `[start, end)`. */
  holders (start: number, end: number): string[] {
    const out: string[] = []
    for (const [peer, state] of this.fellows) if (covers(state.ranges, start, end)) out.push(peer)
    return out
  }

  /** Is a fellow fetching (a live claim on) some position in `[start, end)`? */
  claimed (start: number, end: number): boolean {
    const since = this.now() - this.claimTtlMs
    for (const state of this.fellows.values()) {
      if (state.at < since) continue
      for (const r of state.ranges) {
        if (r.start >= end) break
        if (r.state === 'fetching' && r.end > start) return true
      }
    }
    return false
  }

  /** Call `listener` on every update; returns the unsubscribe. */
  subscribe (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }
}

/** Do the stored ranges of a sorted list cover `[start, end)` (adjacent ranges join)? */
function covers (ranges: HaveRange[], start: number, end: number): boolean {
  let at = start
  for (const r of ranges) {
    if (r.start > at) return false
    if (r.state === 'stored' && r.end > at) at = r.end
    else if (r.state !== 'stored' && r.end > at) return false
    if (at >= end) return true
  }
  return at >= end
}

/**
 * This node's own statement: the gaps between batch spans and the spans of stored batches
 * are stored, the spans of batches it fetches from the publisher are claimed. Adjacent
 * ranges of one state are joined; past MAX ranges the rest is left out (saying less is safe).
 */
export function ownRanges (spans: ReadonlyArray<{ start: number, end: number }>, chunks: number, state: (index: number) => 'stored' | 'fetching' | undefined, max: number): HaveRange[] {
  const out: HaveRange[] = []
  const push = (start: number, end: number, s: HaveRange['state']): void => {
    if (end <= start) return
    const last = out.at(-1)
    if (last !== undefined && last.state === s && last.end === start) last.end = end
    else if (out.length < max) out.push({ start, end, state: s })
  }
  let previous = 0
  for (const [i, span] of spans.entries()) {
    push(previous, span.start, 'stored')
    const s = state(i)
    if (s !== undefined) push(span.start, span.end, s)
    previous = span.end
  }
  push(previous, chunks, 'stored')
  return out
}
