/**
 * The order in which a subscriber fetches the chunk batches of a version, so that
 * subscribers syncing the same version at once take different parts from the publisher
 * and the rest from each other (a pure core: no I/O, tested without peers).
 *
 * - Each subscriber starts at its own offset into the version (derived from its peer id)
 *   and goes round to where it started.
 * - Every batch is asked of fellow subscribers first; what they cannot serve comes from
 *   the publisher (with the fellows still asked).
 * - A batch the fellows could not wholly serve, right after one they could, means this
 *   node has caught up with a fellow that is fetching that batch now. Rather than have the
 *   publisher send it a second time, the batch is put off and this node jumps to the middle
 *   of the longest run of batches it has not tried: it takes over the back half of a
 *   share someone else has not reached yet.
 * - Batches put off are tried again once every other batch was handed out: by then the
 *   fellow that was fetching them has them, or soon will (the caller waits a little for
 *   the fellows before it asks the publisher).
 */

const UNTRIED = 0
const BUSY = 1
/** Done, served wholly by fellows. */
const FROM_FELLOWS = 2
/** Done, with the publisher's help (or nothing was missing). */
const DONE = 3
const PUT_OFF = 4

export interface BatchTurn {
  index: number
  /** A batch that was put off once: do not put it off again. */
  retry: boolean
}

export class BatchOrder {
  private readonly state: Uint8Array
  private cursor: number
  private readonly putOff: number[] = []
  /** How many batches were put off (for the sync report's curious reader and tests). */
  jumps = 0

  /** `count` batches; start at `offset` (a fraction in [0, 1)) of the way through. */
  constructor (count: number, offset: number) {
    this.state = new Uint8Array(count)
    const o = Number.isFinite(offset) ? offset - Math.floor(offset) : 0
    this.cursor = count === 0 ? 0 : Math.min(count - 1, Math.floor(o * count))
  }

  get count (): number {
    return this.state.length
  }

  /** The next batch to fetch, or undefined when every batch has been handed out. */
  next (): BatchTurn | undefined {
    const n = this.state.length
    for (let k = 0; k < n; k++) {
      const i = (this.cursor + k) % n
      if (this.state[i] === UNTRIED) {
        this.state[i] = BUSY
        this.cursor = (i + 1) % n
        return { index: i, retry: false }
      }
    }
    const i = this.putOff.shift()
    if (i === undefined) return undefined
    this.state[i] = BUSY
    return { index: i, retry: true }
  }

  /**
   * Fellows could not wholly serve batch `turn`: put it off (true) when the batch before
   * it came wholly from fellows, jumping to the middle of the longest untried run if there
   * is one; otherwise (false) the publisher is to send it. A retry is never put off: the
   * caller waits a little for the fellows before it asks the publisher.
   */
  putOffAfterMiss (turn: BatchTurn): boolean {
    const n = this.state.length
    if (turn.retry || n < 2) return false
    if (this.state[(turn.index - 1 + n) % n] !== FROM_FELLOWS) return false
    this.state[turn.index] = PUT_OFF
    this.putOff.push(turn.index)
    const target = this.middleOfLongestUntriedRun()
    if (target !== undefined) {
      this.cursor = target
      this.jumps++
    }
    return true
  }

  done (index: number, fromFellowsOnly: boolean): void {
    this.state[index] = fromFellowsOnly ? FROM_FELLOWS : DONE
  }

  /** The batch in the middle of the longest circular run of untried batches. */
  private middleOfLongestUntriedRun (): number | undefined {
    const n = this.state.length
    // start scanning just after some tried batch, so a run is never split at index 0
    let anchor = -1
    for (let i = 0; i < n; i++) if (this.state[i] !== UNTRIED) { anchor = i; break }
    if (anchor === -1) return Math.floor(n / 2)
    let best: { start: number, length: number } | undefined
    let start = -1
    for (let k = 1; k <= n; k++) {
      const i = (anchor + k) % n
      if (this.state[i] === UNTRIED) {
        if (start === -1) start = k
      } else if (start !== -1) {
        const length = k - start
        if (best === undefined || length > best.length) best = { start, length }
        start = -1
      }
    }
    if (best === undefined) return undefined
    return (anchor + best.start + Math.floor(best.length / 2)) % n
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
