/** Tier pack format (pure): seal, index from the trailer alone, detect damage. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { PackBuilder, checkPack, packKey, packNameOfKey, parseTrailer, trailerLength } from '../../node/tier/pack.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { seededBytes } from '../fixtures/seeded.ts'

function sample (n: number): ReturnType<PackBuilder['seal']> {
  const b = new PackBuilder()
  for (let i = 0; i < n; i++) { const d = seededBytes(100 + i, 500 + 37 * i); b.add(chunkCid(d), d) }
  return b.seal()
}

test('a sealed pack is named by its sha256 and indexes itself from its last bytes', () => {
  const b = new PackBuilder()
  const blocks = Array.from({ length: 20 }, (_, i) => seededBytes(i, 1000 + i))
  for (const d of blocks) b.add(chunkCid(d), d)
  const predicted = b.sealedBytes
  const pack = b.seal()
  assert.equal(pack.bytes.length, predicted)
  assert.equal(pack.name, createHash('sha256').update(pack.bytes).digest('hex'))
  assert.equal(packNameOfKey(packKey(pack.name)), pack.name)
  const need = trailerLength(pack.name, pack.bytes.subarray(pack.bytes.length - 64))
  const entries = parseTrailer(pack.name, pack.bytes.subarray(pack.bytes.length - need), pack.bytes.length)
  assert.equal(entries.length, 20)
  for (const [i, e] of entries.entries()) {
    assert.ok(e.cid.equals(chunkCid(blocks[i])))
    assert.deepEqual(pack.bytes.subarray(e.offset, e.offset + e.length), blocks[i])
    assert.deepEqual({ offset: e.offset, length: e.length }, { offset: pack.entries[i].offset, length: pack.entries[i].length })
  }
  assert.equal(checkPack(pack.name, pack.bytes).bad.length, 0)
})

test('damage is found: a flipped byte, a cut pack, a foreign object', () => {
  const pack = sample(5)
  const flipped = Uint8Array.from(pack.bytes)
  flipped[pack.entries[2].offset + 3] ^= 1
  assert.throws(() => checkPack(pack.name, flipped), { code: 'ERR_TIER_DAMAGED' }, 'name no longer matches')
  const renamed = createHash('sha256').update(flipped).digest('hex')
  const { bad } = checkPack(renamed, flipped)
  assert.deepEqual(bad.map(e => e.cid.toString()), [pack.entries[2].cid.toString()])
  assert.throws(() => parseTrailer(pack.name, pack.bytes.subarray(0, pack.bytes.length - 3), pack.bytes.length - 3), { code: 'ERR_TIER_DAMAGED' })
  assert.throws(() => trailerLength('x', new TextEncoder().encode('not a pack at all, no footer')), { code: 'ERR_TIER_DAMAGED' })
  // a trailer that does not tile the body
  assert.throws(() => parseTrailer(pack.name, pack.bytes, pack.bytes.length + 10), { code: 'ERR_TIER_DAMAGED' })
})
