/**
 * Full-text index over buckets: an inverted index from terms (words of the bucket name,
 * group, description and tags) to buckets, searched by prefix so `image` finds
 * `imagenet`. Pure and in memory — it knows nothing of access control; the search route
 * hands it a predicate that pre-filters what the caller could possibly read.
 *
 * Ranking: every query term must match; a bucket scores the sum over query terms of the
 * best field weight it matched (exact word worth twice a prefix); ties go to the most
 * recently updated. Only the best `limit` are ranked (a bounded heap, not a full sort).
 *
 * Buckets are numbered internally: integer-keyed maps and sets are several times faster
 * than string-keyed ones, and a search walks thousands of candidates per request.
 */

export interface SearchDoc {
  key: string
  group: string
  name: string
  description: string
  tags: string[]
  visibility: 'public' | 'private'
  /** ms since the epoch */
  updatedAt: number
}

export interface SearchOptions {
  /** Raw query text; empty lists everything accepted by the filters. */
  query: string
  group?: string
  tag?: string
  /** Called for each candidate that matched the text and filters and would rank. */
  accept: (doc: SearchDoc) => boolean
  /** Return only the best `limit`. @default all */
  limit?: number
}

export interface Ranked {
  doc: SearchDoc
  score: number
}

const WEIGHT = { name: 4, tag: 3, group: 2, description: 1 } as const
type Field = keyof typeof WEIGHT
const MAX_QUERY_TERMS = 8
/** Shorter query words match whole words only: a 1–2 letter prefix matches half the index. */
const MIN_PREFIX_CHARS = 3
/** A prefix expands to at most this many index words (the first in alphabetical order). */
const MAX_PREFIX_TERMS = 256
/** Filter sets up to this size are walked directly; larger ones by scanning recency order. */
const SMALL_SET = 1000

export function tokenize (text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(t => t.length > 0)
}

function docTerms (doc: SearchDoc): Array<[Field, string[]]> {
  return [
    ['name', tokenize(doc.name)],
    ['group', tokenize(doc.group)],
    ['description', tokenize(doc.description)],
    ['tag', doc.tags.flatMap(tokenize)]
  ]
}

export class SearchIndex {
  private readonly ids = new Map<string, number>()
  private readonly docs: Array<SearchDoc | undefined> = []
  private readonly free: number[] = []
  /** term → doc id → best field weight of that term in the doc */
  private readonly postings = new Map<string, Map<number, number>>()
  private readonly byGroup = new Map<string, Set<number>>()
  private readonly byTag = new Map<string, Set<number>>()
  private sortedTerms: string[] | null = null
  /**
   * Doc ids newest first (ranking order for queries without text), rebuilt lazily. An
   * update that makes a bucket the newest — the usual one: a new version — moves it to
   * the front in place instead of forcing a rebuild.
   */
  private recency: number[] | null = null

  get size (): number {
    return this.ids.size
  }

  upsert (doc: SearchDoc): void {
    const recency = this.recency
    const oldId = this.ids.get(doc.key)
    const newest = recency !== null && (recency.length === 0 || order(0, doc, 0, this.docs[recency[0]]!) < 0)
    this.remove(doc.key)
    const id = this.free.pop() ?? this.docs.length
    if (newest) {
      if (oldId !== undefined) recency.splice(recency.indexOf(oldId), 1)
      recency.unshift(id)
      this.recency = recency
    } else {
      this.recency = null
    }
    this.docs[id] = doc
    this.ids.set(doc.key, id)
    for (const [field, terms] of docTerms(doc)) {
      for (const term of terms) {
        let posting = this.postings.get(term)
        if (posting === undefined) {
          posting = new Map()
          this.postings.set(term, posting)
          this.sortedTerms = null
        }
        posting.set(id, Math.max(posting.get(id) ?? 0, WEIGHT[field]))
      }
    }
    addTo(this.byGroup, doc.group, id)
    for (const tag of doc.tags) addTo(this.byTag, tag, id)
  }

  remove (key: string): void {
    const id = this.ids.get(key)
    if (id === undefined) return
    const doc = this.docs[id]!
    this.ids.delete(key)
    this.docs[id] = undefined
    this.free.push(id)
    this.recency = null
    for (const [, terms] of docTerms(doc)) {
      for (const term of terms) {
        const posting = this.postings.get(term)
        if (posting === undefined) continue
        posting.delete(id)
        if (posting.size === 0) {
          this.postings.delete(term)
          this.sortedTerms = null
        }
      }
    }
    this.byGroup.get(doc.group)?.delete(id)
    for (const tag of doc.tags) this.byTag.get(tag)?.delete(id)
  }

  /** Ranked matches, best first. */
  search (options: SearchOptions): Ranked[] {
    const queryTerms = [...new Set(tokenize(options.query))].slice(0, MAX_QUERY_TERMS)
    let candidates: Scores | null = null
    for (const q of queryTerms) {
      const scores = this.matchPrefix(q)
      if (candidates === null) {
        candidates = scores
      } else {
        const next = new Map<number, number>()
        const { map, factor } = candidates
        map.forEach((score, id) => {
          const s = scores.map.get(id)
          if (s !== undefined) next.set(id, score * factor + s * scores.factor)
        })
        candidates = { map: next, factor: 1 }
      }
      if (candidates.map.size === 0) return []
    }
    const narrowing: Array<Set<number>> = []
    if (options.group !== undefined) narrowing.push(this.byGroup.get(options.group) ?? new Set())
    if (options.tag !== undefined) narrowing.push(this.byTag.get(options.tag) ?? new Set())
    const best = new TopK(options.limit ?? Infinity)
    const consider = (id: number, score: number, skip: Set<number> | null): void => {
      for (const set of narrowing) if (set !== skip && !set.has(id)) return
      const doc = this.docs[id]!
      if (best.wouldKeep(score, doc) && options.accept(doc)) best.push({ doc, score })
    }
    // Newest ids first: ids grow with creation, which tracks recency, so on equal scores
    // most later candidates fail `wouldKeep` at once instead of churning the heap.
    if (candidates !== null) {
      const { map, factor } = candidates
      const ids = new Array<number>(map.size)
      const scores = new Array<number>(map.size)
      let n = 0
      map.forEach((score, id) => { ids[n] = id; scores[n++] = score * factor })
      for (let i = n - 1; i >= 0; i--) consider(ids[i], scores[i], null)
    } else {
      const smallest = narrowing.length === 0 ? null : narrowing.reduce((a, b) => a.size <= b.size ? a : b)
      if (smallest !== null && smallest.size <= SMALL_SET) {
        const ids = Array.from(smallest)
        for (let i = ids.length - 1; i >= 0; i--) consider(ids[i], 0, smallest)
      } else {
        // No text: every score is 0, so ranking is recency order; stop at a full page.
        const recency = this.recency ??= [...this.ids.values()].sort((a, b) => order(0, this.docs[a]!, 0, this.docs[b]!))
        for (let i = 0; i < recency.length && !best.full(); i++) consider(recency[i], 0, null)
      }
    }
    return best.sorted()
  }

  /** Scores of the docs matching `prefix`; a single matching word's posting is used as is. */
  private matchPrefix (prefix: string): Scores {
    const terms = this.sortedTerms ??= [...this.postings.keys()].sort()
    let lo = 0
    let hi = terms.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (terms[mid] < prefix) lo = mid + 1
      else hi = mid
    }
    const matched: Array<[Map<number, number>, number]> = []
    const end = Math.min(lo + MAX_PREFIX_TERMS, terms.length)
    for (let i = lo; i < end && terms[i].startsWith(prefix); i++) {
      const exact = terms[i] === prefix
      if (!exact && prefix.length < MIN_PREFIX_CHARS) break
      matched.push([this.postings.get(terms[i])!, exact ? 2 : 1])
    }
    // The common case, one word: no copy (the caller only reads it).
    if (matched.length === 1) return { map: matched[0][0], factor: matched[0][1] }
    const scores = new Map<number, number>()
    for (const [posting, factor] of matched) {
      posting.forEach((weight, id) => {
        const s = weight * factor
        if (s > (scores.get(id) ?? 0)) scores.set(id, s)
      })
    }
    return { map: scores, factor: 1 }
  }
}

/** Doc id → score, each multiplied by `factor` (so a posting can be used without copying). */
interface Scores {
  map: Map<number, number>
  factor: number
}

function addTo (map: Map<string, Set<number>>, key: string, value: number): void {
  let set = map.get(key)
  if (set === undefined) {
    set = new Set()
    map.set(key, set)
  }
  set.add(value)
}

/** Ranking order: higher score, then more recently updated, then key. Negative: a first. */
function order (aScore: number, a: SearchDoc, bScore: number, b: SearchDoc): number {
  return bScore - aScore || b.updatedAt - a.updatedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

function compare (a: Ranked, b: Ranked): number {
  return order(a.score, a.doc, b.score, b.doc)
}

/** The best `k` items seen, as a heap whose root is the worst kept item. */
class TopK {
  private readonly k: number
  private readonly heap: Ranked[] = []

  constructor (k: number) {
    this.k = k
  }

  full (): boolean {
    return this.heap.length >= this.k
  }

  /** Cheap pre-check so the caller skips work for items that would be dropped anyway. */
  wouldKeep (score: number, doc: SearchDoc): boolean {
    return this.heap.length < this.k || order(score, doc, this.heap[0].score, this.heap[0].doc) < 0
  }

  push (item: Ranked): void {
    const h = this.heap
    if (h.length < this.k) {
      h.push(item)
      let i = h.length - 1
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (compare(h[i], h[parent]) <= 0) break
        ;[h[i], h[parent]] = [h[parent], h[i]]
        i = parent
      }
      return
    }
    if (this.k === 0 || compare(item, h[0]) >= 0) return
    h[0] = item
    let i = 0
    while (true) {
      const l = 2 * i + 1
      const r = l + 1
      let worst = i
      if (l < h.length && compare(h[l], h[worst]) > 0) worst = l
      if (r < h.length && compare(h[r], h[worst]) > 0) worst = r
      if (worst === i) break
      ;[h[i], h[worst]] = [h[worst], h[i]]
      i = worst
    }
  }

  sorted (): Ranked[] {
    return [...this.heap].sort(compare)
  }
}
