import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chunk, cutPoints, DEFAULT_CHUNKER_PARAMS } from '../../node/chunker/index.ts'
import { GEAR } from '../../node/chunker/gear.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { seededBytes, seededRandom } from '../fixtures/seeded.ts'

// Golden values: changing any of these changes every chunk boundary and CID Rok has ever
// stored, so dedup with existing stores and peers would silently stop working.
const GOLDEN_LENGTHS = [14616, 7491, 21258, 10619, 10036, 20932, 18004, 16988, 16712, 18386, 17417, 17094, 10897, 10609, 18060, 11311, 7282, 14792, 17052, 16652, 27098, 13958, 35542, 27136, 7056, 28345, 22266, 24669, 8652, 20112]
const GOLDEN_COUNT = 102
const GOLDEN_CIDS = [
  'bafkreihs22xdoyj7qd2pdallozjsb4qebfxdolc3ol3adjnp7l3r24e3dm',
  'bafkreiek3ig2hhuvfmg7zwqanzbyghepyfucr5fkzhejbdbsgk3gnv2pme',
  'bafkreihudwtqgfhiwmvzujk5y5zy5y4xosqhmg7kmmen3y4krdmutt5lma'
]

test('chunk boundaries and CIDs of a seeded 2 MiB input are pinned', () => {
  assert.equal(GEAR[0], 1963242247)
  assert.equal(GEAR[255], -1897668597)
  const data = seededBytes(42, 2 * 1024 * 1024)
  const lengths = cutPoints(data)
  assert.equal(lengths.length, GOLDEN_COUNT)
  assert.deepEqual(lengths.slice(0, GOLDEN_LENGTHS.length), GOLDEN_LENGTHS)
  let offset = 0
  const cids = lengths.slice(0, 3).map(l => { const c = chunkCid(data.subarray(offset, offset + l)).toString(); offset += l; return c })
  assert.deepEqual(cids, GOLDEN_CIDS)
})

test('smaller parameters give pinned boundaries too', () => {
  const data = seededBytes(42, 2 * 1024 * 1024)
  const lengths = cutPoints(data, { minSize: 2048, avgSize: 8192, maxSize: 32768, normalization: 2 })
  assert.deepEqual(lengths.slice(0, 12), [9684, 4932, 7491, 8238, 8583, 8634, 6422, 12495, 12530, 5206, 8931, 8651])
  assert.equal(lengths.length, 231)
})

test('streaming gives the same chunks however the input is split into reads', async () => {
  const data = seededBytes(7, 3 * 1024 * 1024 + 123)
  const expected = cutPoints(data)
  const next = seededRandom(99)
  for (const maxPiece of [1, 1000, 65536, 300_000, 5_000_000]) {
    const pieces: Uint8Array[] = []
    for (let off = 0; off < data.length;) {
      const n = maxPiece === 1 ? 1 + (next() % 7000) : 1 + (next() % maxPiece)
      pieces.push(data.subarray(off, off + n))
      off += n
    }
    const got: number[] = []
    for await (const c of chunk(pieces)) got.push(c.length)
    assert.deepEqual(got, expected, `pieces up to ${maxPiece} bytes`)
  }
})

test('every chunk respects the min and max sizes, and the average is near the target', () => {
  const data = seededBytes(3, 16 * 1024 * 1024)
  const lengths = cutPoints(data)
  const { minSize, maxSize, avgSize } = DEFAULT_CHUNKER_PARAMS
  lengths.slice(0, -1).forEach(l => { assert.ok(l >= minSize && l <= maxSize, `chunk of ${l}`) })
  assert.equal(lengths.reduce((a, b) => a + b, 0), data.length)
  const mean = data.length / lengths.length
  assert.ok(mean > avgSize * 0.8 && mean < avgSize * 1.6, `mean chunk ${mean}`)
})

test('an insertion near the start changes only the chunks around it', () => {
  const data = seededBytes(11, 8 * 1024 * 1024)
  const edited = new Uint8Array(data.length + 100)
  edited.set(data.subarray(0, 1_000_000), 0)
  edited.set(seededBytes(12, 100), 1_000_000)
  edited.set(data.subarray(1_000_000), 1_000_100)
  const cidsOf = (buf: Uint8Array): string[] => {
    let off = 0
    return cutPoints(buf).map(l => { const c = chunkCid(buf.subarray(off, off + l)).toString(); off += l; return c })
  }
  const before = new Set(cidsOf(data))
  const after = cidsOf(edited)
  const fresh = after.filter(c => !before.has(c))
  assert.ok(fresh.length <= 2, `${fresh.length} new chunks after a 100-byte insertion`)
})

test('empty input gives no chunks; a tiny input gives one', async () => {
  assert.deepEqual(cutPoints(new Uint8Array(0)), [])
  const got: number[] = []
  for await (const c of chunk([new Uint8Array(10)])) got.push(c.length)
  assert.deepEqual(got, [10])
})

test('invalid parameters are refused with a clear error', () => {
  assert.throws(() => cutPoints(new Uint8Array(10), { minSize: 100, avgSize: 3000, maxSize: 9000, normalization: 2 }), { code: 'ERR_INVALID_CHUNKER_PARAMS' })
})
