import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ASK, SKIP, SearchIndex, TAKE, tokenize, type Decision, type SearchDoc } from '../../registry/search-index.ts'

function index (): SearchIndex {
  const ix = new SearchIndex()
  ix.upsert({ key: 'acme/imagenet-small', group: 'acme', name: 'imagenet-small', description: 'A small ImageNet subset', tags: ['vision'], visibility: 'public', updatedAt: 3 })
  ix.upsert({ key: 'acme/cats', group: 'acme', name: 'cats', description: 'cats from imagenet', tags: ['pets'], visibility: 'public', updatedAt: 2 })
  ix.upsert({ key: 'lab/imagery', group: 'lab', name: 'imagery', description: 'satellite', tags: ['vision', 'geo'], visibility: 'private', updatedAt: 1 })
  return ix
}
const keys = (ix: SearchIndex, query: string, extra: { group?: string, tag?: string } = {}): string[] =>
  ix.search({ query, ...extra, accept: () => true }).map(r => r.doc.key)

test('words match by prefix and every query word must match', () => {
  const ix = index()
  assert.deepEqual(keys(ix, 'imag'), ['acme/imagenet-small', 'lab/imagery', 'acme/cats'])
  assert.deepEqual(keys(ix, 'imagenet small'), ['acme/imagenet-small'])
  assert.deepEqual(keys(ix, 'imagenet zebra'), [])
})

test('a name match outranks a description match; an exact word outranks a prefix', () => {
  const ix = index()
  const ranked = ix.search({ query: 'imagenet', accept: () => true })
  assert.deepEqual(ranked.map(r => r.doc.key), ['acme/imagenet-small', 'acme/cats'])
  assert.ok(ranked[0].score > ranked[1].score)
})

test('group and tag filters narrow, and an empty query lists newest first', () => {
  const ix = index()
  assert.deepEqual(keys(ix, '', { tag: 'vision' }), ['acme/imagenet-small', 'lab/imagery'])
  assert.deepEqual(keys(ix, '', { group: 'lab' }), ['lab/imagery'])
  assert.deepEqual(keys(ix, 'imag', { group: 'acme', tag: 'pets' }), ['acme/cats'])
  assert.deepEqual(keys(ix, '', { tag: 'nope' }), [])
})

test('updating or removing a bucket updates what search finds', () => {
  const ix = index()
  ix.upsert({ key: 'acme/cats', group: 'acme', name: 'cats', description: 'felines', tags: [], visibility: 'public', updatedAt: 4 })
  assert.deepEqual(keys(ix, 'imagenet'), ['acme/imagenet-small'])
  assert.deepEqual(keys(ix, 'feline'), ['acme/cats'])
  ix.remove('acme/imagenet-small')
  assert.deepEqual(keys(ix, 'imag'), ['lab/imagery'])
  assert.equal(ix.size, 2)
})

test('the accept predicate decides what is returned', () => {
  const ix = index()
  assert.deepEqual(ix.search({ query: 'imag', accept: d => d.group === 'lab' }).map(r => r.doc.key), ['lab/imagery'])
})

test('decide takes or skips a whole group and visibility, and only ASK consults accept', () => {
  const ix = index()
  const asked: string[] = []
  const decisions: Record<string, Decision> = { 'acme/true': SKIP, 'lab/false': ASK }
  const found = ix.search({
    query: 'imag',
    decide: (group, isPublic) => decisions[`${ix.groupName(group)}/${isPublic}`] ?? TAKE,
    accept: d => { asked.push(d.key); return true }
  })
  assert.deepEqual(found.map(r => r.doc.key), ['lab/imagery'])
  assert.deepEqual(asked, ['lab/imagery'])
  decisions['lab/false'] = SKIP
  assert.deepEqual(ix.search({ query: 'imag', decide: (group, isPublic) => decisions[`${ix.groupName(group)}/${isPublic}`] ?? TAKE, accept: () => true }), [])
})

test('equally ranked buckets come newest first, then by key, whatever order they were created in', () => {
  // Buckets created in the same millisecond tie on score and time: the key decides.
  for (const order of [[0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]]) {
    const ix = new SearchIndex()
    for (const i of order) ix.upsert({ key: `g/b${i}`, group: 'g', name: `b${i}`, description: 'alpha beta', tags: ['t'], visibility: 'public', updatedAt: i < 3 ? 7 : 6 })
    const expected = ['g/b0', 'g/b1', 'g/b2', 'g/b3']
    for (const query of ['alpha', 'alph', 'alpha beta', '']) {
      assert.deepEqual(ix.search({ query, accept: () => true }).map(r => r.doc.key), expected, `${query} after ${order}`)
      assert.deepEqual(ix.search({ query, tag: 't', accept: () => true, limit: 2 }).map(r => r.doc.key), expected.slice(0, 2), `${query} in tag after ${order}`)
    }
  }
})

test('tokenize splits on punctuation, lowercases, and keeps non-Latin letters', () => {
  assert.deepEqual(tokenize('ImageNet-small_v2 Über.daten 画像'), ['imagenet', 'small', 'v2', 'über', 'daten', '画像'])
})

test('a limit keeps only the best matches, in the same order as a full ranking', () => {
  const ix = new SearchIndex()
  for (let i = 0; i < 500; i++) ix.upsert({ key: `g/b${i}`, group: 'g', name: `b${i}`, description: i % 3 === 0 ? 'alpha beta' : 'alpha', tags: [], visibility: 'public', updatedAt: (i * 7919) % 1000 })
  const full = ix.search({ query: 'alpha beta', accept: () => true }).map(r => r.doc.key)
  const top = ix.search({ query: 'alpha beta', accept: () => true, limit: 10 }).map(r => r.doc.key)
  assert.deepEqual(top, full.slice(0, 10))
  const all = ix.search({ query: 'alph', accept: () => true }).map(r => r.doc.key)
  assert.deepEqual(ix.search({ query: 'alph', accept: () => true, limit: 25 }).map(r => r.doc.key), all.slice(0, 25))
})

test('queries without text list newest first, also after updates, inserts and removals', () => {
  const ix = new SearchIndex()
  const put = (name: string, updatedAt: number, tags: string[] = ['t']): void =>
    ix.upsert({ key: `g/${name}`, group: 'g', name, description: '', tags, visibility: 'public', updatedAt })
  for (let i = 0; i < 3000; i++) put(`b${i}`, i, i % 2 === 0 ? ['t', 'even'] : ['t'])
  const page = (extra: { tag?: string } = {}): string[] => ix.search({ query: '', ...extra, accept: () => true, limit: 3 }).map(r => r.doc.name)
  assert.deepEqual(page(), ['b2999', 'b2998', 'b2997'])
  assert.deepEqual(page({ tag: 'even' }), ['b2998', 'b2996', 'b2994'])
  put('b5', 5000) // a new version: becomes the newest in place
  assert.deepEqual(page(), ['b5', 'b2999', 'b2998'])
  put('old', 1) // a new bucket that is not the newest
  put('b2999', 2)
  assert.deepEqual(page(), ['b5', 'b2998', 'b2997'])
  ix.remove('g/b5')
  assert.deepEqual(page(), ['b2998', 'b2997', 'b2996'])
  const full = ix.search({ query: '', accept: () => true }).map(r => r.doc.updatedAt)
  assert.deepEqual(full, [...full].sort((a, b) => b - a))
  assert.equal(full.length, 3000)
})

/** The ranking the index promises, computed the slow way: score every bucket, sort them all. */
function reference (docs: Map<string, SearchDoc>, o: { query: string, group?: string, tag?: string, limit: number, accept: (d: SearchDoc) => boolean }): Array<[string, number]> {
  const weights = { name: 4, tag: 3, group: 2, description: 1 }
  const words = [...new Set(tokenize(o.query))].slice(0, 8)
  const allTerms = [...new Set([...docs.values()].flatMap(d => [...tokenize(d.name), ...tokenize(d.group), ...tokenize(d.description), ...d.tags.flatMap(tokenize)]))].sort()
  const out: Array<[SearchDoc, number]> = []
  for (const d of docs.values()) {
    if (o.group !== undefined && d.group !== o.group) continue
    if (o.tag !== undefined && !d.tags.includes(o.tag)) continue
    const fields: Array<[number, string[]]> = [[weights.name, tokenize(d.name)], [weights.group, tokenize(d.group)], [weights.description, tokenize(d.description)], [weights.tag, d.tags.flatMap(tokenize)]]
    let score = 0
    let all = true
    for (const w of words) {
      // A word matches the first 256 index words it starts (alphabetically), or only itself when short.
      const matched = new Set(allTerms.filter(t => t === w || (w.length >= 3 && t.startsWith(w))).slice(0, 256))
      let best = 0
      for (const [weight, terms] of fields) for (const t of terms) if (matched.has(t)) best = Math.max(best, weight * (t === w ? 2 : 1))
      if (best === 0) { all = false; break }
      score += best
    }
    if (all && o.accept(d)) out.push([d, score])
  }
  out.sort(([a, as], [b, bs]) => bs - as || b.updatedAt - a.updatedAt || (a.key < b.key ? -1 : 1))
  return out.slice(0, o.limit).map(([d, s]) => [d.key, s])
}

test('search ranks exactly like scoring and sorting every bucket, through random inserts, updates and removals', () => {
  let seed = 7
  const rand = (): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 2 ** 32 }
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const words = ['kalo', 'kalomi', 'kaloner', 'mi', 'miner', 'tovas', 'to', 'vasri', 'ri', 'quon', 'quondel', 'del', 'sa', 'sabu']
  const tags = ['t1', 't2', 't3', 'kalo']
  const groups = ['ga', 'gb', 'kalo']
  const ix = new SearchIndex()
  const docs = new Map<string, SearchDoc>()
  const put = (): void => {
    const group = pick(groups)
    const name = `${pick(words)}-${pick(words)}`
    const doc: SearchDoc = { key: `${group}/${name}-${Math.floor(rand() * 100)}`, group, name, description: Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(words)).join(' '), tags: [...new Set([pick(tags), pick(tags)])].slice(0, Math.floor(rand() * 3)), visibility: rand() < 0.5 ? 'public' : 'private', updatedAt: Math.floor(rand() * 50) }
    ix.upsert(doc)
    docs.set(doc.key, doc)
  }
  const queries = ['', 'kalo', 'kal', 'mi', 'min', 'kalo mi', 'kal ri', 'miner kalomi', 'quon', 'sabu del', 'zzz', 'kalo kalo', 'ga', 'to vas', 'kal min quon']
  // Enough buckets that two common words share hundreds (ranked by walking a list).
  for (let i = 0; i < 1500; i++) put()
  for (let step = 0; step < 300; step++) {
    const r = rand()
    if (r < 0.6 || docs.size < 5) put()
    else if (r < 0.8) {
      const key = pick([...docs.keys()])
      ix.remove(key)
      docs.delete(key)
    } else {
      // A new version: the same bucket, updated later.
      const d = docs.get(pick([...docs.keys()]))!
      const newer = { ...d, updatedAt: d.updatedAt + 1 + Math.floor(rand() * 60) }
      ix.upsert(newer)
      docs.set(d.key, newer)
    }
    for (let q = 0; q < 2; q++) {
      const o = {
        query: pick(queries),
        group: rand() < 0.3 ? pick(groups) : undefined,
        tag: rand() < 0.3 ? pick(tags) : undefined,
        limit: pick([1, 2, 3, 10, 1000]),
        accept: rand() < 0.5 ? () => true : (d: SearchDoc) => d.visibility === 'public'
      }
      const got = ix.search(o).map(r => [r.doc.key, r.score])
      assert.deepEqual(got, reference(docs, o), `step ${step}: ${JSON.stringify({ ...o, accept: String(o.accept) })}`)
      // Deciding per group and visibility, asking `accept` of the rest, finds what one predicate would.
      const table = new Map(groups.flatMap(g => [true, false].map(p => [`${g}/${p}`, pick([TAKE, SKIP, ASK] as Decision[])])))
      const oddName = (d: SearchDoc): boolean => d.name.length % 2 === 1
      const decided = { ...o, decide: (g: number, isPublic: boolean) => table.get(`${ix.groupName(g)}/${isPublic}`)!, accept: oddName }
      const combined = (d: SearchDoc): boolean => {
        const decision = table.get(`${d.group}/${d.visibility === 'public'}`)
        return decision === TAKE || (decision === ASK && oddName(d))
      }
      assert.deepEqual(ix.search(decided).map(r => [r.doc.key, r.score]), reference(docs, { ...o, accept: combined }), `step ${step}, decided: ${JSON.stringify([...table])}`)
    }
  }
  assert.equal(ix.size, docs.size)
})

test('with hundreds of buckets matching every word, a lower match on one word still wins when the others make up for it', () => {
  const ix = new SearchIndex()
  const put = (name: string, description: string, updatedAt: number): void =>
    ix.upsert({ key: `g/${name}`, group: 'g', name, description, tags: [], visibility: 'public', updatedAt })
  for (let i = 0; i < 300; i++) put(`filler${i}`, 'alpha beta', i)
  for (let i = 0; i < 400; i++) put(`beta-only${i}`, 'beta', i)
  put('alpha-old', 'beta', 1000) // alpha in the name (8) + beta in the description (2)
  put('beta-new', 'alpha', 2000) // alpha in the description (2) + beta in the name (8): same score, newer
  const top = ix.search({ query: 'alpha beta', accept: () => true, limit: 1 })
  assert.deepEqual(top.map(r => [r.doc.name, r.score]), [['beta-new', 10]])
  assert.deepEqual(ix.search({ query: 'alpha beta', accept: () => true, limit: 3 }).map(r => r.doc.name), ['beta-new', 'alpha-old', 'filler299'])
})
