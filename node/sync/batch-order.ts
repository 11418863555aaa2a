/**
 * Which chunk batch of a version a subscriber fetches next, and from whom, given what its
 * fellows said they hold and fetch (`/rok/have/1.0.0`, swarm-view.ts): a pure core, no I/O,
 * tested in a simulated swarm.
 *
 * - With no fellow known, every batch comes from the publisher, from this node's own
 *   offset (derived from its peer id) round to where it started.
 * - With fellows, a node keeps one batch in flight from the publisher, one nobody holds or
 *   fetches, picked among them by its rank among the fellows still fetching (so nodes
 *   hearing the same news at once pick different ones). Its other turns fetch
 *   batches a fellow holds, from that fellow. When every batch left is being fetched by a
 *   fellow, it waits for one to finish rather than have the publisher send it twice.
 * - A caller that waited too long without news (a fellow that claims and never delivers)
 *   asks again impatiently: then the publisher sends a claimed batch too.
 */

const UNTRIED = 0
const BUSY = 1
const DONE = 2

/** What the fellows said, by batch index. */
export interface SwarmKnowledge {
  /** Is any fellow known (has one said anything about this version)? */
  readonly fellows: boolean
  /** Does a fellow hold all of batch `index`? */
  held: (index: number) => boolean
  /** Is a fellow fetching (part of) batch `index` from the publisher now? */
  claimed: (index: number) => boolean
  /**
   * Where this node stands among itself and the fellows still fetching (by peer id):
   * `index` of `of`; undefined before it knows any.
   */
  readonly rank?: { index: number, of: number }
}

export interface BatchTurn {
  index: number
  from: 'fellows' | 'publisher'
}

export const NO_FELLOWS: SwarmKnowledge = { fellows: false, held: () => false, claimed: () => false }

export class BatchOrder {
  private readonly state: Uint8Array
  private cursor: number
  private readonly offset: number
  private publisherTurns = 0
  private untried: number

  /** `count` batches; start at `offset` (a fraction in [0, 1)) of the way through. */
  constructor (count: number, offset: number) {
    this.state = new Uint8Array(count)
    this.untried = count
    const o = Number.isFinite(offset) ? offset - Math.floor(offset) : 0
    this.offset = o
    this.cursor = count === 0 ? 0 : Math.min(count - 1, Math.floor(o * count))
  }

  get count (): number {
    return this.state.length
  }

  /** Batches not handed out yet. */
  get remaining (): number {
    return this.untried
  }

  /** Batches in flight from the publisher now. */
  get fromPublisher (): number {
    return this.publisherTurns
  }

  /**
   * The next turn; 'wait' when every batch left is being fetched by a fellow (or this node
   * already has its publisher turn and no fellow holds anything it lacks); undefined when
   * every batch has been handed out.
   */
  next (swarm: SwarmKnowledge, patient = true): BatchTurn | 'wait' | undefined {
    if (this.untried === 0) return undefined
    if (!swarm.fellows) return this.take(this.nextUntried(this.cursor)!, 'publisher')
    if (this.publisherTurns === 0) {
      const free = this.nextFree(swarm)
      if (free !== undefined) return this.take(free, 'publisher')
    }
    const held = this.find(i => swarm.held(i))
    if (held !== undefined) return this.take(held, 'fellows')
    if (patient) return 'wait'
    return this.take(this.nextFree(swarm) ?? this.nextUntried(this.cursor)!, 'publisher')
  }

  /** Batch `turn` is stored (whoever sent it). */
  done (turn: BatchTurn): void {
    this.state[turn.index] = DONE
    if (turn.from === 'publisher') this.publisherTurns--
  }

  private take (index: number, from: BatchTurn['from']): BatchTurn {
    this.state[index] = BUSY
    this.untried--
    if (from === 'publisher') {
      this.publisherTurns++
      this.cursor = (index + 1) % this.state.length
    }
    return { index, from }
  }

  /**
   * An untried batch nobody holds or fetches, picked by this node's rank among the fellows
   * still fetching: with at least as many such batches as fetching nodes, as far through
   * them as its rank is through the nodes; with fewer, the one at its rank, if any (a node
   * ranked past them leaves them to the others). Nodes that read the same statements at
   * once (they all finished a batch in the same moment) so pick different batches, where a
   * rule on the statements alone would send them all to one. Before it knows its fellows,
   * its offset picks.
   */
  private nextFree (swarm: SwarmKnowledge): number | undefined {
    const free: number[] = []
    for (let i = 0; i < this.state.length; i++) if (this.state[i] === UNTRIED && !swarm.held(i) && !swarm.claimed(i)) free.push(i)
    if (free.length === 0) return undefined
    const rank = swarm.rank
    if (rank === undefined) return free[Math.min(free.length - 1, Math.floor(this.offset * free.length))]
    if (free.length >= rank.of) return free[Math.floor(rank.index * free.length / rank.of)]
    return free[rank.index]
  }

  private nextUntried (from: number): number | undefined {
    return this.find(() => true, from)
  }

  /** The first untried batch from `from` round, for which `test` holds. */
  private find (test: (index: number) => boolean, from = this.cursor): number | undefined {
    const n = this.state.length
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n
      if (this.state[i] === UNTRIED && test(i)) return i
    }
    return undefined
  }
}

/** A stable fraction in [0, 1) for `key` (FNV-1a, then murmur3's final mix so every character moves the high bits): where a node starts in every version. */
export function offsetOf (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return (h >>> 0) / 2 ** 32
}
