/**
 * Full-text index over buckets: an inverted index from terms (words of the bucket name,
 * group, description and tags) to buckets, searched by prefix so `image` finds
 * `imagenet`. Pure and in memory — it knows nothing of access control; the search route
 * hands it a predicate that pre-filters what the caller could possibly read.
 *
 * Ranking: every query term must match; a bucket scores the sum over query terms of the
 * best field weight it matched (exact word worth twice a prefix); ties go to the most
 * recently updated.
 */

export interface SearchDoc {
  key: string
  group: string
  name: string
  description: string
  tags: string[]
  /** ms since the epoch */
  updatedAt: number
}

export interface SearchOptions {
  /** Raw query text; empty lists everything accepted by the filters. */
  query: string
  group?: string
  tag?: string
  /** Called for each candidate that matched the text and filters. */
  accept: (doc: SearchDoc) => boolean
}

export interface Ranked {
  doc: SearchDoc
  score: number
}

const WEIGHT = { name: 4, tag: 3, group: 2, description: 1 } as const
type Field = keyof typeof WEIGHT
const MAX_QUERY_TERMS = 8

export function tokenize (text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(t => t.length > 0)
}

export class SearchIndex {
  private readonly docs = new Map<string, SearchDoc>()
  /** term → bucket key → best field weight of that term in the bucket */
  private readonly postings = new Map<string, Map<string, number>>()
  private readonly byGroup = new Map<string, Set<string>>()
  private readonly byTag = new Map<string, Set<string>>()
  private sortedTerms: string[] | null = null

  get size (): number {
    return this.docs.size
  }

  upsert (doc: SearchDoc): void {
    this.remove(doc.key)
    this.docs.set(doc.key, doc)
    const fields: Array<[Field, string[]]> = [
      ['name', tokenize(doc.name)],
      ['group', tokenize(doc.group)],
      ['description', tokenize(doc.description)],
      ['tag', doc.tags.flatMap(tokenize)]
    ]
    for (const [field, terms] of fields) {
      for (const term of terms) {
        let posting = this.postings.get(term)
        if (posting === undefined) {
          posting = new Map()
          this.postings.set(term, posting)
          this.sortedTerms = null
        }
        posting.set(doc.key, Math.max(posting.get(doc.key) ?? 0, WEIGHT[field]))
      }
    }
    addTo(this.byGroup, doc.group, doc.key)
    for (const tag of doc.tags) addTo(this.byTag, tag, doc.key)
  }

  remove (key: string): void {
    const doc = this.docs.get(key)
    if (doc === undefined) return
    this.docs.delete(key)
    const terms = new Set([doc.name, doc.group, doc.description, ...doc.tags].flatMap(tokenize))
    for (const term of terms) {
      const posting = this.postings.get(term)
      if (posting === undefined) continue
      posting.delete(key)
      if (posting.size === 0) {
        this.postings.delete(term)
        this.sortedTerms = null
      }
    }
    this.byGroup.get(doc.group)?.delete(key)
    for (const tag of doc.tags) this.byTag.get(tag)?.delete(key)
  }

  /** Ranked matches, best first. */
  search (options: SearchOptions): Ranked[] {
    const queryTerms = [...new Set(tokenize(options.query))].slice(0, MAX_QUERY_TERMS)
    let candidates: Map<string, number> | null = null
    for (const q of queryTerms) {
      const scores = this.matchPrefix(q)
      if (candidates === null) {
        candidates = scores
      } else {
        const next = new Map<string, number>()
        for (const [key, score] of candidates) {
          const s = scores.get(key)
          if (s !== undefined) next.set(key, score + s)
        }
        candidates = next
      }
      if (candidates.size === 0) return []
    }
    const narrowing = [
      options.group !== undefined ? (this.byGroup.get(options.group) ?? new Set<string>()) : null,
      options.tag !== undefined ? (this.byTag.get(options.tag) ?? new Set<string>()) : null
    ].filter((s): s is Set<string> => s !== null)
    const out: Ranked[] = []
    const consider = (key: string, score: number): void => {
      for (const set of narrowing) if (!set.has(key)) return
      const doc = this.docs.get(key)!
      if (options.accept(doc)) out.push({ doc, score })
    }
    if (candidates !== null) {
      for (const [key, score] of candidates) consider(key, score)
    } else if (narrowing.length > 0) {
      const smallest = narrowing.reduce((a, b) => a.size <= b.size ? a : b)
      for (const key of smallest) consider(key, 0)
    } else {
      for (const key of this.docs.keys()) consider(key, 0)
    }
    out.sort((a, b) => b.score - a.score || b.doc.updatedAt - a.doc.updatedAt || (a.doc.key < b.doc.key ? -1 : 1))
    return out
  }

  private matchPrefix (prefix: string): Map<string, number> {
    const terms = this.sortedTerms ??= [...this.postings.keys()].sort()
    let lo = 0
    let hi = terms.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (terms[mid] < prefix) lo = mid + 1
      else hi = mid
    }
    const scores = new Map<string, number>()
    for (let i = lo; i < terms.length && terms[i].startsWith(prefix); i++) {
      const exact = terms[i] === prefix
      for (const [key, weight] of this.postings.get(terms[i])!) {
        const s = exact ? weight * 2 : weight
        if (s > (scores.get(key) ?? 0)) scores.set(key, s)
      }
    }
    return scores
  }
}

function addTo (map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key)
  if (set === undefined) {
    set = new Set()
    map.set(key, set)
  }
  set.add(value)
}
