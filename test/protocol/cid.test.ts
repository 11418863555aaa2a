import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as Digest from 'multiformats/hashes/digest'
import { bytesMatchCid, chunkCid, chunkCidFromDigest, cidFor, cidFromBytes, DAG_CBOR_CODEC, RAW_CODEC, SHA2_256 } from '../../protocol/cid.ts'
import { isRokError } from '../../protocol/errors.ts'
import { seededBytes } from '../fixtures/seeded.ts'

/** What multiformats itself builds for these bytes. */
function reference (codec: number, bytes: Uint8Array): CID {
  return CID.createV1(codec, Digest.create(SHA2_256, createHash('sha256').update(bytes).digest()))
}

test('CIDs made, decoded or rebuilt from a digest are the CIDs multiformats makes, however many share memory', () => {
  const made: Array<[CID, CID]> = []
  // far more than one 4 KiB slab holds, so CIDs from several slabs are compared
  for (let i = 0; i < 500; i++) {
    const bytes = seededBytes(i, 1 + (i * 37) % 3000)
    const codec = i % 3 === 0 ? DAG_CBOR_CODEC : RAW_CODEC
    const want = reference(codec, bytes)
    const got = codec === RAW_CODEC && i % 2 === 0 ? chunkCidFromDigest(want.multihash.digest) : cidFor(codec, bytes)
    made.push([got, want])
  }
  for (const [got, want] of made) {
    assert.ok(got.equals(want))
    assert.equal(got.toString(), want.toString())
    for (const [a, b] of [[got.bytes, want.bytes], [got.multihash.bytes, want.multihash.bytes], [got.multihash.digest, want.multihash.digest]]) {
      assert.ok(Buffer.from(a).equals(Buffer.from(b)))
    }
    assert.equal(got.multihash.code, SHA2_256)
    assert.equal(got.multihash.size, 32)
    assert.equal(CID.asCID(got), got)
    const decoded = cidFromBytes(want.bytes)
    assert.ok(decoded.equals(want))
    assert.equal(CID.decode(got.bytes).toString(), want.toString())
  }
  assert.ok(chunkCid(new Uint8Array([1, 2, 3])).equals(reference(RAW_CODEC, new Uint8Array([1, 2, 3]))))
})

test('a decoded CID keeps its own copy: the wire buffer it came from can be reused', () => {
  const want = reference(RAW_CODEC, seededBytes(1, 100))
  const wire = Uint8Array.from(want.bytes)
  const cid = cidFromBytes(wire)
  wire.fill(0)
  assert.ok(cid.equals(want))
})

test('CID bytes Rok does not make are refused with a clear error, fast path or not', () => {
  const good = reference(RAW_CODEC, seededBytes(2, 10)).bytes
  const bad = [
    good.subarray(0, 35), // short
    Uint8Array.from([...good, 0]), // trailing byte
    Uint8Array.from([1, 0x70, ...good.subarray(2)]), // dag-pb codec
    Uint8Array.from([1, 0x55, 0x13, 0x20, ...good.subarray(4)]), // sha2-512 code with a 32-byte digest
    new Uint8Array(36)
  ]
  for (const bytes of bad) {
    assert.throws(() => cidFromBytes(bytes), (err: unknown) => isRokError(err, 'ERR_INVALID_CID'))
  }
})

test('bytesMatchCid: true for the bytes hashed, false for any other bytes or another hash function', () => {
  const bytes = seededBytes(3, 5000)
  const cid = chunkCid(bytes)
  assert.equal(bytesMatchCid(cid, bytes), true)
  const other = Uint8Array.from(bytes)
  other[4999] ^= 1
  assert.equal(bytesMatchCid(cid, other), false)
  const identity = CID.createV1(RAW_CODEC, Digest.create(0x00, bytes.subarray(0, 32)))
  assert.equal(bytesMatchCid(identity, bytes.subarray(0, 32)), false)
})
