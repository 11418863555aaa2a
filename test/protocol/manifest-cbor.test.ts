/**
 * The manifest's direct DAG-CBOR codec writes exactly @ipld/dag-cbor's bytes and reads
 * back exactly its values, and leaves everything else (non-canonical or unknown input)
 * to @ipld/dag-cbor, so manifests keep their CIDs and stay as strictly checked.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import * as dagCbor from '@ipld/dag-cbor'
import { CID, chunkCid, cidFor, DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { decodeManifestCbor, encodeManifestCbor } from '../../protocol/manifest-cbor.ts'
import { decodeEntry, decodeListNode, encodeNode, entryToCbor, isLeafListNode, type Entry } from '../../protocol/manifest.ts'
import { CHUNK_LIST, ENTRY_LIST } from '../../node/snapshot/shapes.ts'
import { ListTreeBuilder } from '../../node/snapshot/list-tree.ts'

const cid = fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 40 }))
  .map(([raw, seed]) => raw ? chunkCid(seed) : cidFor(DAG_CBOR_CODEC, seed))
/** Integers around every CBOR length boundary, both signs. */
const int = fc.oneof(
  fc.integer({ min: -30, max: 30 }),
  fc.constantFrom(23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -24, -25, -256, -257, -65536, -65537, -(2 ** 32), -(2 ** 32) - 1, Number.MIN_SAFE_INTEGER),
  fc.maxSafeInteger(),
  fc.integer()
)
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ minLength: 24, maxLength: 300 }))
const chunkRef = fc.tuple(cid, fc.nat(16 * 1024 * 1024))
const entry: fc.Arbitrary<Record<string, unknown>> = fc.record({
  name: text,
  kind: fc.constantFrom('file', 'dir', 'symlink', 'hardlink'),
  mode: fc.nat(0o7777),
  mtime: fc.tuple(int, fc.nat(999_999_999)),
  size: fc.maxSafeInteger().map(Math.abs),
  data: fc.array(chunkRef, { maxLength: 20 }),
  dataTree: cid,
  dir: cid,
  target: text
}, { requiredKeys: ['name', 'kind', 'mode', 'mtime', 'size'] })
const branchLink = fc.tuple(cid, fc.maxSafeInteger().map(Math.abs), fc.maxSafeInteger().map(Math.abs))
const listNode = fc.oneof(
  fc.array(entry, { maxLength: 30 }).map(leaf => ({ leaf })),
  fc.array(chunkRef, { maxLength: 30 }).map(leaf => ({ leaf })),
  fc.array(branchLink, { minLength: 1, maxLength: 30 }).map(branch => ({ branch }))
)
/** Any DAG-CBOR value: the codec must encode what it can exactly and refuse the rest. */
const anyValue = fc.letrec<{ value: unknown }>(tie => ({
  value: fc.oneof({ depthSize: 'small' },
    int, text, cid, fc.double(), fc.boolean(), fc.constant(null), fc.uint8Array({ maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('name', 'kind', 'leaf', 'dir', 'data', 'dataTree', 'mtime', 'format'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 5 }))
})).value

function sameValue (a: unknown, b: unknown): void {
  assert.deepEqual(JSON.parse(JSON.stringify(a, cidsAsText)), JSON.parse(JSON.stringify(b, cidsAsText)))
}
function cidsAsText (_key: string, v: unknown): unknown {
  const c = CID.asCID(v)
  if (c !== null) return { cid: c.toString(), version: c.version, code: c.code }
  return v
}

describe('manifest DAG-CBOR codec', () => {
  it('writes the same bytes as @ipld/dag-cbor for every list node and entry', () => {
    fc.assert(fc.property(listNode, node => {
      const fast = encodeManifestCbor(node)
      assert.ok(fast !== undefined, 'a list node is in the subset')
      assert.deepEqual(Buffer.from(fast), Buffer.from(dagCbor.encode(node)))
    }), { numRuns: 400 })
  })

  it('reads back exactly what @ipld/dag-cbor reads, for every list node and entry', () => {
    fc.assert(fc.property(listNode, node => {
      const bytes = dagCbor.encode(node)
      const fast = decodeManifestCbor(bytes)
      assert.ok(fast !== undefined, 'canonical bytes of a list node are in the subset')
      sameValue(fast, dagCbor.decode(bytes))
    }), { numRuns: 400 })
  })

  it('encodes any value either exactly as @ipld/dag-cbor does or not at all', () => {
    fc.assert(fc.property(anyValue, value => {
      const fast = encodeManifestCbor(value)
      let slow: Uint8Array | undefined
      try { slow = dagCbor.encode(value) } catch {}
      if (fast === undefined) return
      assert.ok(slow !== undefined, 'never encodes what dag-cbor refuses')
      assert.deepEqual(Buffer.from(fast), Buffer.from(slow))
    }), { numRuns: 1000 })
  })

  it('never accepts bytes @ipld/dag-cbor rejects, and agrees on the value of bytes it accepts', () => {
    const encoded = fc.oneof(listNode, anyValue).map(v => {
      try { return dagCbor.encode(v) } catch { return new Uint8Array([0xf6]) }
    })
    // damaged encodings: flipped, cut, extended and spliced bytes
    const damaged = fc.tuple(encoded, fc.nat(), fc.nat(255), fc.constantFrom('flip', 'cut', 'append', 'insert'))
      .map(([bytes, at, byte, how]) => {
        const i = bytes.length === 0 ? 0 : at % bytes.length
        if (how === 'flip') { const b = Uint8Array.from(bytes); b[i] = byte; return b }
        if (how === 'cut') return bytes.subarray(0, i)
        if (how === 'append') return Uint8Array.of(...bytes, byte)
        return Uint8Array.of(...bytes.subarray(0, i), byte, ...bytes.subarray(i))
      })
    fc.assert(fc.property(fc.oneof(encoded, damaged, fc.uint8Array({ maxLength: 64 })), bytes => {
      const fast = decodeManifestCbor(bytes)
      if (fast === undefined) return
      let slow: unknown
      assert.doesNotThrow(() => { slow = dagCbor.decode(bytes) }, 'accepted bytes that dag-cbor rejects')
      sameValue(fast, slow)
    }), { numRuns: 3000 })
  })

  it('leaves non-canonical encodings to @ipld/dag-cbor', () => {
    const longHeadKey = Uint8Array.of(0xa1, 0x78, 4, ...Buffer.from('leaf'), 0x80) // key length in a 1-byte argument
    const longHeadInt = Uint8Array.of(0x82, 0x18, 5, 0x00) // 5 written in two bytes
    const swapped = Uint8Array.of(0xa2, 0x64, ...Buffer.from('name'), 0x61, 0x61, 0x64, ...Buffer.from('mode'), 0x01) // keys out of order
    const duplicate = Uint8Array.of(0xa2, 0x64, ...Buffer.from('mode'), 0x01, 0x64, ...Buffer.from('mode'), 0x02)
    const indefinite = Uint8Array.of(0x9f, 0x01, 0xff)
    for (const bytes of [longHeadKey, longHeadInt, duplicate, indefinite]) {
      assert.equal(decodeManifestCbor(bytes), undefined)
      assert.throws(() => dagCbor.decode(bytes))
    }
    // dag-cbor reads keys out of order; left to it, such a node decodes as before
    assert.equal(decodeManifestCbor(swapped), undefined)
    assert.deepEqual(dagCbor.decode(swapped), { name: 'a', mode: 1 })
  })

  it('keeps the CIDs of a folder list and a chunk list (golden)', async () => {
    const entries: Entry[] = []
    for (let i = 0; i < 300; i++) {
      const name = `file-${i.toString().padStart(4, '0')}${i % 7 === 0 ? '-é' : ''}`
      const e: Entry = { name, kind: 'file', mode: 0o644, mtime: [1_700_000_000 + i, i * 1000], size: i * 1000 }
      if (i % 10 === 3) {
        e.kind = 'dir'
        e.size = 0
        e.dir = cidFor(DAG_CBOR_CODEC, Buffer.from(name))
      } else if (i % 10 === 5) {
        e.kind = 'symlink'
        e.size = 0
        e.target = `../t/${name}`
      } else if (i % 10 === 7) {
        e.dataTree = cidFor(DAG_CBOR_CODEC, Buffer.from(`tree ${name}`))
      } else {
        e.data = [[chunkCid(Buffer.from(name)), i * 1000]]
      }
      entries.push(e)
    }
    const folder = new ListTreeBuilder(ENTRY_LIST, async () => {})
    for (const e of entries) await folder.add(e, e.size)
    const chunks = new ListTreeBuilder(CHUNK_LIST, async () => {})
    for (let i = 0; i < 5000; i++) await chunks.add([chunkCid(Buffer.from(`chunk ${i}`)), 65536 + i], 65536 + i)
    const [folderRoot] = await folder.finish()
    const [chunkRoot] = await chunks.finish()
    assert.equal(folderRoot.toString(), 'bafyreigdq2e272qxxjiqfnrva5ivs4jb4wncqqk5cp3g6hdykkggkzief4')
    assert.equal(chunkRoot.toString(), 'bafyreifq5j5wwuhraenabfpab2ouecaazmk3xoaf525pmnyoxuovkirebq')
    // and each entry reads back as itself
    const leaf = encodeNode({ leaf: entries.slice(0, 40).map(entryToCbor) })
    const back = decodeListNode(leaf.bytes, decodeEntry)
    assert.ok('leaf' in back)
    sameValue(back.leaf, entries.slice(0, 40))
  })

  it('tells a leaf list node from a branch by its key alone', () => {
    const ref: [CID, number] = [chunkCid(Buffer.from('a chunk')), 7]
    const leaf = encodeNode({ leaf: [ref] })
    const branch = encodeNode({ branch: [[leaf.cid, 1, 7]] })
    assert.equal(isLeafListNode(leaf.bytes), true)
    assert.equal(isLeafListNode(branch.bytes), false)
    assert.equal(isLeafListNode(encodeNode({ leaf: [] }).bytes), true)
    // not list nodes at all
    assert.equal(isLeafListNode(encodeNode({ leaf: [ref], size: 7 }).bytes), false)
    assert.equal(isLeafListNode(new Uint8Array(0)), false)
  })
})
