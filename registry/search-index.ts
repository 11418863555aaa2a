/**
 * Full-text index over buckets: an inverted index from terms (words of the bucket name,
 * group, description and tags) to buckets, searched by prefix so `image` finds
 * `imagenet`. Pure and in memory — it knows nothing of access control; the search route
 * hands it a predicate that decides what the caller may read.
 *
 * Ranking: every query term must match; a bucket scores the sum over query terms of the
 * best field weight it matched (exact word worth twice a prefix); ties go to the most
 * recently updated, then to the bucket key.
 *
 * Every posting list (a term's buckets, a group's, a tag's, and the list of all buckets)
 * also keeps its buckets in ranking order, so a one-word query, a tag or a group walks
 * its list from the top and stops at a full page instead of ranking every match: the
 * cost follows the page size, not the number of matches. That order is sorted when a
 * list is first searched and kept in place by each insert or removal after that.
 * A prefix matching several index words is searched through one merged list, kept until
 * a write touches one of its words. Several words (or a word within a narrow filter)
 * intersect id-sorted arrays and order what is left by score, then recency position; when
 * they are expected to share many buckets, the smallest word's list is walked in ranking
 * order under a score bound instead. A list holding a sizeable share of all buckets keeps a
 * bitmap of them once it is used as a filter or intersected, so testing a bucket against it
 * does not binary-search a long list; a query word's matching list is remembered until an
 * index word comes or goes.
 *
 * Buckets are numbered internally, and a list is an array of small integers (id and
 * weight in one), sorted by id: a few bytes per entry, where a Map of ids took ~30 and
 * the index holds ~1.5 million entries for 100,000 buckets. So are groups numbered, and each bucket's group number and visibility sit in
 * one typed array, so a caller's access can be decided per group and visibility
 * (`SearchOptions.decide`) from a small table, without touching a bucket's record: a
 * search passes over dozens of buckets it does not return, and on a busy server each
 * record visited is a cache miss or several.
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

/**
 * What to do with every bucket of one group and visibility: take it, skip it, or ask
 * `accept` (for instance when a rule names some of the group's buckets).
 */
export const TAKE = 0
export const SKIP = 1
export const ASK = 2
export type Decision = typeof TAKE | typeof SKIP | typeof ASK

export interface SearchOptions<D extends SearchDoc = SearchDoc> {
  /** Raw query text; empty lists everything accepted by the filters. */
  query: string
  group?: string
  tag?: string
  /**
   * Decides whether a candidate that matched the text and filters may be returned. Called
   * in ranking order (one-word, tag and group queries) or only for candidates that would
   * make the page, so it is asked about little more than a page of buckets.
   */
  accept: (doc: D) => boolean
  /**
   * Decides first, for a whole group (by number, see `groupName`) and visibility, before `accept`
   * is asked of each bucket. @default every bucket is asked of `accept`
   */
  decide?: (group: number, isPublic: boolean) => Decision
  /** Return only the best `limit`. @default all */
  limit?: number
}

export interface Ranked<D extends SearchDoc = SearchDoc> {
  doc: D
  score: number
}

const askAll = (): Decision => ASK

const WEIGHT = { name: 4, tag: 3, group: 2, description: 1 } as const
type Field = keyof typeof WEIGHT
const MAX_QUERY_TERMS = 8
/** Shorter query words match whole words only: a 1–2 letter prefix matches half the index. */
const MIN_PREFIX_CHARS = 3
/** A prefix expands to at most this many index words (the first in alphabetical order). */
const MAX_PREFIX_TERMS = 256
/** An exact word match is worth this many times a prefix match. */
const EXACT = 2
const PREFIX = 1
/** Several words expected to share more buckets than this are ranked by `walkScoring`. */
const MANY_MATCHES = 1000
/** Merged prefix lists kept at once, in buckets summed over lists (about 30 bytes each). */
const MAX_PREFIX_LIST_ENTRIES = 1_000_000
/** Query words whose matching lists are remembered at once (until a word comes or goes). */
const MAX_REMEMBERED_MATCHES = 10_000
/**
 * A list holding at least 1/this of all buckets also keeps a bitmap of its ids when it is
 * used as a filter or intersected: testing a bit touches one small array instead of a
 * large hash table (a cache miss per test), and the bitmap is no bigger than the map.
 */
const BITMAP_FRACTION = 64

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

/** Ranking order: higher score, then more recently updated, then key. Negative: a first. */
function order (aScore: number, a: SearchDoc, bScore: number, b: SearchDoc): number {
  return bScore - aScore || b.updatedAt - a.updatedAt || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
}

/** What ordering lists needs: the buckets, and their order by recency alone. */
interface Ranking {
  docs: Docs
  /** All bucket ids newest first, and each id's position there. */
  recency: () => { ids: Int32Array, rankOf: Int32Array }
}

/** Sort keys pack (weight, recency position) into one number: weights stay below this. */
const MAX_SORT_WEIGHT = 64
const RANK_SPAN = 2 ** 32
/** Scores (at most MAX_QUERY_TERMS × the best weight × EXACT) stay below this in sort keys. */
const MAX_SORT_SCORE = 128

/**
 * A list entry is one small integer, bucket id × WEIGHT_SPAN + its weight there: a merged
 * prefix list's weights (the best field weight × EXACT) stay below WEIGHT_SPAN, and ids
 * below 2^26 (a store far larger than memory), so an entry is a small integer that a
 * plain array holds unboxed.
 */
const WEIGHT_BITS = 4
const WEIGHT_SPAN = 1 << WEIGHT_BITS
const idOf = (entry: number): number => entry >> WEIGHT_BITS
const weightIn = (entry: number): number => entry & (WEIGHT_SPAN - 1)
const entryOf = (id: number, weight: number): number => id * WEIGHT_SPAN + weight

/**
 * The buckets of one term, group or tag, each with its weight there (0 for groups and
 * tags), as entries (see WEIGHT_SPAN) in ascending id order; once asked for, the same
 * entries in ranking order (weight, then recency). A plain array of small integers takes
 * 8 bytes a bucket where a Map took ~30, and the index holds ~1.5 million of them.
 */
class Posting {
  /** Ascending by id. */
  private entries: number[]
  private ranked: number[] | null = null
  /** Bit `id` is set when `id` is in the list; kept up to date once made (see `useBitmap`). */
  private bits: Int32Array | null = null
  /** The list of all buckets, which defines recency order, is sorted by comparing records. */
  private readonly definesRecency: boolean

  constructor (definesRecency = false, entries: number[] = []) {
    this.definesRecency = definesRecency
    this.entries = entries
  }

  get size (): number {
    return this.entries.length
  }

  /** The entries in ascending id order; the caller must not change them. */
  ascending (): readonly number[] {
    return this.entries
  }

  /** The weight of `id` in the list, or -1 when it is not in it. */
  weightOf (id: number): number {
    const e = this.entries
    const i = this.slot(id)
    return i < e.length && idOf(e[i]) === id ? weightIn(e[i]) : -1
  }

  /** Adds `id` (not yet in the list) with `weight`. */
  add (id: number, weight: number, docs: Docs): void {
    const entry = entryOf(id, weight)
    const i = this.slot(id)
    // A literal for the first entry: a push onto an empty array reserves room for 17.
    if (this.entries.length === 0) this.entries = [entry]
    else if (i === this.entries.length) this.entries.push(entry)
    else this.entries.splice(i, 0, entry)
    if (this.ranked !== null) this.ranked.splice(this.position(id, weight, docs), 0, entry)
    if (this.bits !== null) {
      if (id >>> 5 >= this.bits.length) {
        const grown = new Int32Array(Math.max((id >>> 5) + 1, this.bits.length * 2))
        grown.set(this.bits)
        this.bits = grown
      }
      this.bits[id >>> 5] |= 1 << (id & 31)
    }
  }

  /** Raises the weight of `id` (already in the list) to `weight`. */
  raise (id: number, weight: number, docs: Docs): void {
    this.delete(id, docs)
    this.add(id, weight, docs)
  }

  /** Removes `id`; its doc must still be in `docs`, as the list is ordered by it. */
  delete (id: number, docs: Docs): void {
    const weight = this.weightOf(id)
    if (weight < 0) return
    if (this.ranked !== null) this.ranked.splice(this.position(id, weight, docs), 1)
    this.entries.splice(this.slot(id), 1)
    if (this.bits !== null) this.bits[id >>> 5] &= ~(1 << (id & 31))
  }

  /** Drops the spare room the arrays grew while loading. */
  compact (): void {
    this.entries = this.entries.slice()
  }

  /** Whether `id` is in the list. */
  has (id: number): boolean {
    const bits = this.bits
    if (bits === null) return this.weightOf(id) >= 0
    const word = id >>> 5
    return word < bits.length && (bits[word] & (1 << (id & 31))) !== 0
  }

  /** Whether the bitmap (if the list has one) rules `id` out. */
  excludes (id: number): boolean {
    const bits = this.bits
    if (bits === null) return false
    const word = id >>> 5
    return word >= bits.length || (bits[word] & (1 << (id & 31))) === 0
  }

  /** Makes the bitmap behind `has` if the list holds at least 1/BITMAP_FRACTION of `capacity` ids. */
  useBitmap (capacity: number): void {
    const e = this.entries
    if (this.bits !== null || e.length * BITMAP_FRACTION < capacity) return
    const bits = new Int32Array((capacity >>> 5) + 1)
    for (let i = 0; i < e.length; i++) {
      const id = idOf(e[i])
      bits[id >>> 5] |= 1 << (id & 31)
    }
    this.bits = bits
  }

  /** Entries best first. */
  rankedEntries (r: Ranking): number[] {
    if (this.ranked === null) {
      const e = this.entries
      const docs = r.docs
      if (this.definesRecency) {
        this.ranked = [...e].sort((a, b) => order(weightIn(a), docs[idOf(a)]!, weightIn(b), docs[idOf(b)]!))
      } else {
        // A numeric sort of packed keys: several times faster than comparing records.
        const { ids, rankOf } = r.recency()
        const keys = new Float64Array(e.length)
        for (let i = 0; i < e.length; i++) keys[i] = (MAX_SORT_WEIGHT - weightIn(e[i])) * RANK_SPAN + rankOf[idOf(e[i])]
        keys.sort()
        const ranked = new Array<number>(keys.length)
        for (let j = 0; j < keys.length; j++) ranked[j] = entryOf(ids[keys[j] % RANK_SPAN], MAX_SORT_WEIGHT - Math.floor(keys[j] / RANK_SPAN))
        this.ranked = ranked
      }
    }
    return this.ranked
  }

  /** Where `id` is, or would go, in `entries`. */
  private slot (id: number): number {
    const e = this.entries
    const n = e.length
    // Loading numbers buckets in order, so it appends: look at the end first.
    if (n === 0 || idOf(e[n - 1]) < id) return n
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (idOf(e[mid]) < id) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** Where `id` with `weight` sits (or would sit) in the ranked list. */
  private position (id: number, weight: number, docs: Docs): number {
    const ranked = this.ranked!
    const doc = docs[id]!
    let lo = 0
    let hi = ranked.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const other = ranked[mid]
      if (order(weightIn(other), docs[idOf(other)]!, weight, doc) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

type Docs = Array<SearchDoc | undefined>

/** A walk's access check: the bucket `id`'s doc if it may be returned, else undefined. */
type Admit<D> = (id: number) => D | undefined

/** One query word: the list of the buckets it matches, each score being `factor` × weight. */
interface TermMatch {
  posting: Posting
  factor: number
}

export class SearchIndex<D extends SearchDoc = SearchDoc> {
  private readonly ids = new Map<string, number>()
  private readonly docs: Array<D | undefined> = []
  /** Group name → its number; numbers are never reused, so a caller's table stays valid. */
  private readonly groupNumbers = new Map<string, number>()
  private readonly groupNames: string[] = []
  /** id → its group number × 2, + 1 when public. */
  private groupAndVisibility = new Int32Array(1024)
  private readonly free: number[] = []
  private readonly postings = new Map<string, Posting>()
  private readonly byGroup = new Map<string, Posting>()
  private readonly byTag = new Map<string, Posting>()
  /** Every bucket: the ranking order of queries without text or filters (newest first). */
  private readonly all = new Posting(true)
  /** Bucket ids in `all`'s order, and each id's position there; rebuilt after a change. */
  private recencyIds = new Int32Array(0)
  private rankOf: Int32Array | null = null
  private readonly ranking: Ranking = {
    docs: this.docs,
    recency: () => {
      if (this.rankOf === null) {
        const ranked = this.all.rankedEntries(this.ranking)
        const ids = new Int32Array(ranked.length)
        const rankOf = new Int32Array(this.docs.length)
        for (let r = 0; r < ranked.length; r++) {
          ids[r] = idOf(ranked[r])
          rankOf[ids[r]] = r
        }
        this.recencyIds = ids
        this.rankOf = rankOf
      }
      return { ids: this.recencyIds, rankOf: this.rankOf }
    }
  }
  private sortedTerms: string[] | null = null
  /**
   * Merged lists of prefixes that match several index words (each bucket with its best
   * score over them), most recently used last; a write drops those of its words' prefixes.
   */
  private readonly prefixLists = new Map<string, Posting>()
  private prefixEntries = 0
  /** Query word → the one index word's list it matches, or null for none; dropped when an index word comes or goes. */
  private readonly matches = new Map<string, TermMatch | null>()
  /** Intersections work in these (search runs to its end before another starts). */
  private scratch = scratchFor(1024)

  get size (): number {
    return this.ids.size
  }

  /** The name of the group `decide` is asked about by number. */
  groupName (group: number): string {
    return this.groupNames[group]
  }

  /**
   * Sorts every bucket by recency now, so the first search after loading does not: every
   * list's ranking order is made from that one.
   */
  prepare (): void {
    this.ranking.recency()
    for (const lists of [this.postings, this.byGroup, this.byTag]) for (const list of lists.values()) list.compact()
    this.all.compact()
  }

  upsert (doc: D): void {
    this.remove(doc.key)
    const id = this.free.pop() ?? this.docs.length
    const docs = this.docs
    docs[id] = doc
    this.ids.set(doc.key, id)
    let group = this.groupNumbers.get(doc.group)
    if (group === undefined) {
      group = this.groupNames.length
      this.groupNumbers.set(doc.group, group)
      this.groupNames.push(doc.group)
    }
    if (id >= this.groupAndVisibility.length) {
      const grown = new Int32Array(this.groupAndVisibility.length * 2)
      grown.set(this.groupAndVisibility)
      this.groupAndVisibility = grown
    }
    this.groupAndVisibility[id] = group * 2 + (doc.visibility === 'public' ? 1 : 0)
    for (const [field, terms] of docTerms(doc)) {
      for (const term of terms) {
        this.dropPrefixLists(term)
        let posting = this.postings.get(term)
        if (posting === undefined) {
          posting = new Posting()
          this.postings.set(term, posting)
          this.termsChanged()
        }
        const had = posting.weightOf(id)
        if (had < 0) posting.add(id, WEIGHT[field], docs)
        else if (had < WEIGHT[field]) posting.raise(id, WEIGHT[field], docs)
      }
    }
    this.all.add(id, 0, docs)
    this.rankOf = null
    listOf(this.byGroup, doc.group).add(id, 0, docs)
    for (const tag of new Set(doc.tags)) listOf(this.byTag, tag).add(id, 0, docs)
  }

  remove (key: string): void {
    const id = this.ids.get(key)
    if (id === undefined) return
    const doc = this.docs[id]!
    const docs = this.docs
    for (const [, terms] of docTerms(doc)) {
      for (const term of terms) {
        this.dropPrefixLists(term)
        const posting = this.postings.get(term)
        if (posting === undefined) continue
        posting.delete(id, docs)
        if (posting.size === 0) {
          this.postings.delete(term)
          this.termsChanged()
        }
      }
    }
    this.all.delete(id, docs)
    this.rankOf = null
    dropFrom(this.byGroup, doc.group, id, docs)
    for (const tag of new Set(doc.tags)) dropFrom(this.byTag, tag, id, docs)
    this.ids.delete(key)
    docs[id] = undefined
    this.free.push(id)
  }

  private termsChanged (): void {
    this.sortedTerms = null
    this.matches.clear()
  }

  /** Ranked matches, best first. */
  search (options: SearchOptions<D>): Array<Ranked<D>> {
    const limit = options.limit ?? Infinity
    const { accept } = options
    const decide = options.decide ?? askAll
    const docs = this.docs
    const groupAndVisibility = this.groupAndVisibility
    const admit: Admit<D> = id => {
      const gv = groupAndVisibility[id]
      const decision = decide(gv >>> 1, (gv & 1) === 1)
      if (decision === SKIP) return undefined
      const doc = docs[id]!
      return decision === TAKE || accept(doc) ? doc : undefined
    }
    const filters: Posting[] = []
    if (options.group !== undefined) filters.push(this.byGroup.get(options.group) ?? new Posting())
    if (options.tag !== undefined) filters.push(this.byTag.get(options.tag) ?? new Posting())
    const terms: TermMatch[] = []
    for (const q of [...new Set(tokenize(options.query))].slice(0, MAX_QUERY_TERMS)) {
      const match = this.matchPrefix(q)
      if (match === null) return []
      terms.push(match)
    }
    for (const f of filters) f.useBitmap(this.docs.length)
    const smallestFilter = filters.reduce<Posting | null>((a, b) => a === null || b.size < a.size ? b : a, null)
    if (smallestFilter?.size === 0 || limit <= 0) return []

    // No text: the smallest filter's list (or all buckets) is already in ranking order.
    if (terms.length === 0) {
      const driver = smallestFilter ?? this.all
      return this.walk({ posting: driver, factor: 0 }, filters, driver, admit, limit)
    }
    // One word: walk its list in ranking order, unless a filter is so narrow that the walk
    // would pass more buckets (about limit × all / filter) than the filter holds.
    const word = terms[0].posting
    if (terms.length === 1 && (smallestFilter === null || limit * this.size / smallestFilter.size < Math.min(smallestFilter.size, word.size))) {
      return this.walk(terms[0], filters, null, admit, limit)
    }
    return this.rankCandidates(terms, filters, admit, limit)
  }

  /** Walks `list` in ranking order, skipping buckets outside a filter or not accepted, until `limit` are found. */
  private walk (list: TermMatch, filters: Posting[], skip: Posting | null, admit: Admit<D>, limit: number): Array<Ranked<D>> {
    const out: Array<Ranked<D>> = []
    const entries = list.posting.rankedEntries(this.ranking)
    candidates: for (let i = 0; i < entries.length; i++) {
      const id = idOf(entries[i])
      for (const f of filters) if (f !== skip && !f.has(id)) continue candidates
      const doc = admit(id)
      if (doc === undefined) continue
      out.push({ doc, score: weightIn(entries[i]) * list.factor })
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Several words (or one word within a narrow filter): intersect the lists, smallest
   * first, score what is left and keep the best `limit`.
   */
  private rankCandidates (terms: TermMatch[], filters: Posting[], admit: Admit<D>, limit: number): Array<Ranked<D>> {
    const lists = [...terms, ...filters.map(posting => ({ posting, factor: 0 }))].sort((a, b) => a.posting.size - b.posting.size)
    // Expected matches, were the lists independent: too many to score them all, walk instead.
    let expected = lists[0].posting.size
    for (let l = 1; l < lists.length; l++) expected *= lists[l].posting.size / this.size
    if (expected > MANY_MATCHES) return this.walkScoring(terms, filters, admit, limit)
    // Walk the smallest list, looking each of its buckets up in the others, smallest first.
    const first = lists[0]
    const firstEntries = first.posting.ascending()
    let n = firstEntries.length
    if (this.scratch.ids.length < n) this.scratch = scratchFor(n)
    const { ids, scores } = this.scratch
    for (let i = 0; i < n; i++) {
      ids[i] = idOf(firstEntries[i])
      scores[i] = weightIn(firstEntries[i])
    }
    let factor = first.factor
    for (let l = 1; l < lists.length && n > 0; l++) {
      const next = lists[l]
      next.posting.useBitmap(this.docs.length)
      n = intersect(ids, scores, n, factor, next.posting, next.factor)
      factor = 1
    }
    // Ranking order without comparing records: packed (score, recency position) keys.
    const { ids: byRecency, rankOf } = this.ranking.recency()
    const keys = this.scratch.keys.subarray(0, n)
    for (let i = 0; i < n; i++) keys[i] = (MAX_SORT_SCORE - scores[i] * factor) * RANK_SPAN + rankOf[ids[i]]
    keys.sort()
    const out: Array<Ranked<D>> = []
    for (let i = 0; i < keys.length; i++) {
      const doc = admit(byRecency[keys[i] % RANK_SPAN])
      if (doc === undefined) continue
      out.push({ doc, score: MAX_SORT_SCORE - Math.floor(keys[i] / RANK_SPAN) })
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Ranks several words with many common buckets: walks the smallest word's list in its
   * ranking order, scoring each bucket by lookups in the other lists, into a top-`limit`
   * heap; stops once that word's score plus the most the others could add cannot make the
   * page. The cost follows how far down the list the page is decided, not the matches.
   */
  private walkScoring (terms: TermMatch[], filters: Posting[], admit: Admit<D>, limit: number): Array<Ranked<D>> {
    const driver = terms.reduce((a, b) => b.posting.size < a.posting.size ? b : a)
    for (const t of terms) if (t !== driver) t.posting.useBitmap(this.docs.length)
    let othersBest = 0
    for (const t of terms) if (t !== driver) othersBest += weightIn(t.posting.rankedEntries(this.ranking)[0]) * t.factor
    const best = new TopK<D>(limit)
    const ranked = driver.posting.rankedEntries(this.ranking)
    candidates: for (let i = 0; i < ranked.length; i++) {
      const id = idOf(ranked[i])
      let score = weightIn(ranked[i]) * driver.factor
      if (!best.couldKeep(score + othersBest)) break
      for (const f of filters) if (!f.has(id)) continue candidates
      for (const t of terms) {
        if (t === driver) continue
        if (!t.posting.has(id)) continue candidates
        score += t.posting.weightOf(id) * t.factor
      }
      if (!best.wouldKeep(score, this.docs[id]!)) continue
      const doc = admit(id)
      if (doc !== undefined) best.push({ doc, score })
    }
    return best.sorted()
  }

  /**
   * The buckets matching `prefix`: the list of the one index word it matches, or the
   * merged lists of the several it starts (only the word itself when it is short).
   */
  private matchPrefix (prefix: string): TermMatch | null {
    const cached = this.prefixLists.get(prefix)
    if (cached !== undefined) {
      this.prefixLists.delete(prefix)
      this.prefixLists.set(prefix, cached)
      return { posting: cached, factor: 1 }
    }
    const remembered = this.matches.get(prefix)
    if (remembered !== undefined) return remembered
    const terms = this.sortedTerms ??= [...this.postings.keys()].sort()
    let lo = 0
    let hi = terms.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (terms[mid] < prefix) lo = mid + 1
      else hi = mid
    }
    const matched: TermMatch[] = []
    const end = Math.min(lo + MAX_PREFIX_TERMS, terms.length)
    for (let i = lo; i < end && terms[i].startsWith(prefix); i++) {
      const exact = terms[i] === prefix
      if (!exact && prefix.length < MIN_PREFIX_CHARS) break
      matched.push({ posting: this.postings.get(terms[i])!, factor: exact ? EXACT : PREFIX })
    }
    if (matched.length <= 1) {
      if (this.matches.size >= MAX_REMEMBERED_MATCHES) this.matches.clear()
      this.matches.set(prefix, matched[0] ?? null)
      return matched[0] ?? null
    }
    // Every word's entries with their weights scaled, sorted: a bucket's entries sit
    // together, its best last.
    let total = 0
    for (const { posting } of matched) total += posting.size
    const scaled = new Int32Array(total)
    let n = 0
    for (const { posting, factor } of matched) {
      for (const e of posting.ascending()) scaled[n++] = entryOf(idOf(e), weightIn(e) * factor)
    }
    scaled.sort()
    let distinct = 0
    for (let i = 0; i < n; i++) if (i + 1 === n || idOf(scaled[i + 1]) !== idOf(scaled[i])) distinct++
    const best = new Array<number>(distinct)
    for (let i = 0, j = 0; i < n; i++) if (i + 1 === n || idOf(scaled[i + 1]) !== idOf(scaled[i])) best[j++] = scaled[i]
    const merged = new Posting(false, best)
    this.prefixLists.set(prefix, merged)
    this.prefixEntries += merged.size
    for (const [p, list] of this.prefixLists) {
      if (this.prefixEntries <= MAX_PREFIX_LIST_ENTRIES) break
      this.prefixLists.delete(p)
      this.prefixEntries -= list.size
    }
    return { posting: merged, factor: 1 }
  }

  /** Forgets the merged lists of every prefix of `term`: a bucket with it came or went. */
  private dropPrefixLists (term: string): void {
    if (this.prefixLists.size === 0) return
    for (let n = MIN_PREFIX_CHARS; n <= term.length; n++) {
      const p = term.slice(0, n)
      const list = this.prefixLists.get(p)
      if (list === undefined) continue
      this.prefixLists.delete(p)
      this.prefixEntries -= list.size
    }
  }
}

/** Arrays for intersecting lists of up to `n` buckets: made per search, they cost more than the intersecting. */
function scratchFor (n: number): { ids: Int32Array, scores: Uint16Array, keys: Float64Array } {
  return { ids: new Int32Array(n), scores: new Uint16Array(n), keys: new Float64Array(n) }
}

/**
 * Keeps, of the first `n` ascending `ids`, those also in `list`, in place and in order,
 * each score becoming `aFactor` × its score + `bFactor` × its weight in `list`; returns
 * how many are left. Walks `ids`, ruling buckets out by `list`'s bitmap if it has one and
 * galloping through its ascending entries for the rest (so a bucket found costs a few
 * steps from the last one, not a search of the whole list).
 */
function intersect (ids: Int32Array, scores: Uint16Array, n: number, aFactor: number, list: Posting, bFactor: number): number {
  const b = list.ascending()
  let kept = 0
  let j = 0
  for (let i = 0; i < n && j < b.length; i++) {
    const id = ids[i]
    if (list.excludes(id)) continue
    // `id`'s entries are the ones from entryOf(id, 0) up.
    const least = entryOf(id, 0)
    // Gallop: double the step until past `id`, then binary search the last step.
    let lo = j
    let step = 1
    let hi = j
    while (hi < b.length && b[hi] < least) {
      lo = hi + 1
      hi += step
      step *= 2
    }
    if (hi > b.length) hi = b.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (b[mid] < least) lo = mid + 1
      else hi = mid
    }
    j = lo
    if (j < b.length && idOf(b[j]) === id) {
      ids[kept] = id
      scores[kept++] = scores[i] * aFactor + weightIn(b[j]) * bFactor
    }
  }
  return kept
}

function listOf (map: Map<string, Posting>, key: string): Posting {
  let list = map.get(key)
  if (list === undefined) {
    list = new Posting()
    map.set(key, list)
  }
  return list
}

function dropFrom (map: Map<string, Posting>, key: string, id: number, docs: Docs): void {
  const list = map.get(key)
  if (list === undefined) return
  list.delete(id, docs)
  if (list.size === 0) map.delete(key)
}

function compare (a: Ranked, b: Ranked): number {
  return order(a.score, a.doc, b.score, b.doc)
}

/** A binary heap whose top is the item for which `before` holds against all others. */
class MinHeap<T> {
  private readonly items: T[] = []
  private readonly before: (a: T, b: T) => boolean

  constructor (before: (a: T, b: T) => boolean) {
    this.before = before
  }

  get size (): number {
    return this.items.length
  }

  top (): T {
    return this.items[0]
  }

  push (item: T): void {
    const h = this.items
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.before(h[i], h[parent])) break
      ;[h[i], h[parent]] = [h[parent], h[i]]
      i = parent
    }
  }

  pop (): void {
    const last = this.items.pop()!
    if (this.items.length > 0) this.replaceTop(last)
  }

  /** Puts `item` at the top and sifts it down to its place. */
  replaceTop (item: T): void {
    const h = this.items
    h[0] = item
    let i = 0
    while (true) {
      const l = 2 * i + 1
      const r = l + 1
      let first = i
      if (l < h.length && this.before(h[l], h[first])) first = l
      if (r < h.length && this.before(h[r], h[first])) first = r
      if (first === i) break
      ;[h[i], h[first]] = [h[first], h[i]]
      i = first
    }
  }
}

/** The best `k` items seen: a heap whose top is the worst kept item. */
class TopK<D extends SearchDoc> {
  private readonly k: number
  private readonly heap = new MinHeap<Ranked<D>>((a, b) => compare(a, b) > 0)

  constructor (k: number) {
    this.k = k
  }

  /** Whether an item scoring `score` could still be kept (on equal scores, recency decides). */
  couldKeep (score: number): boolean {
    return this.heap.size < this.k || score >= this.heap.top().score
  }

  /** Cheap pre-check so the caller skips work for items that would be dropped anyway. */
  wouldKeep (score: number, doc: SearchDoc): boolean {
    if (this.heap.size < this.k) return true
    const worst = this.heap.top()
    return order(score, doc, worst.score, worst.doc) < 0
  }

  push (item: Ranked<D>): void {
    if (this.heap.size < this.k) this.heap.push(item)
    else if (this.k > 0 && compare(item, this.heap.top()) < 0) this.heap.replaceTop(item)
  }

  sorted (): Array<Ranked<D>> {
    const out: Array<Ranked<D>> = []
    while (this.heap.size > 0) {
      out.push(this.heap.top())
      this.heap.pop()
    }
    return out.reverse()
  }
}
