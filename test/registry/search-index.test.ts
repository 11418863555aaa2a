import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SearchIndex, tokenize } from '../../registry/search-index.ts'

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
