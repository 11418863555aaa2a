import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { randomBytes } from 'node:crypto'
import { bytesMatchCid, chunkCid, cidFor, DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { isRokError, ProtocolErrorCode } from '../../protocol/errors.ts'
import {
  decodeBody, encodeBlock, encodeCancel, encodeDontHave, encodeHave, encodeMessage, encodeRun, encodeRunHeader, encodeWant, FrameDecoder,
  forEachRunEntry, MAX_BLOCK_BYTES, MAX_CIDS_PER_MESSAGE, MAX_FRAME_BODY_BYTES, type ExchangeMessage
} from '../../protocol/exchange.ts'

const a = chunkCid(new TextEncoder().encode('a'))
const b = cidFor(DAG_CBOR_CODEC, new TextEncoder().encode('b'))

function invalid (err: unknown): boolean {
  return isRokError(err, ProtocolErrorCode.INVALID_MESSAGE)
}

function roundTrip (message: ExchangeMessage): ExchangeMessage {
  const [decoded] = new FrameDecoder().push(encodeMessage(message))
  return decoded
}

describe('exchange codec', () => {
  it('round-trips every message type', () => {
    const want = roundTrip({ type: 'want', entries: [{ cid: a, kind: 'block' }, { cid: b, kind: 'have' }] })
    assert.equal(want.type, 'want')
    assert.deepEqual(want.type === 'want' && want.entries.map(e => [e.cid.toString(), e.kind]), [[a.toString(), 'block'], [b.toString(), 'have']])
    for (const type of ['cancel', 'have', 'dont-have'] as const) {
      const m = roundTrip({ type, cids: [a, b] })
      assert.equal(m.type, type)
      assert.deepEqual('cids' in m && m.cids.map(c => c.toString()), [a.toString(), b.toString()])
    }
    const bytes = new Uint8Array([1, 2, 3, 4, 5])
    const block = roundTrip({ type: 'block', cidBytes: a.bytes, bytes })
    assert.ok(block.type === 'block')
    assert.deepEqual(block.cidBytes, a.bytes)
    assert.deepEqual([...block.bytes], [...bytes])
  })

  it('pins the wire bytes of a WANT', () => {
    // golden: 4-byte length (41), type 1, count 1, flags 0, cid length 36, cid
    const frame = encodeWant([{ cid: a, kind: 'block' }])
    assert.equal(Buffer.from(frame.subarray(0, 9)).toString('hex'), '000000290100010024')
    assert.deepEqual(frame.subarray(9), a.bytes)
  })

  it('reassembles frames delivered one byte at a time, and several frames in one piece', () => {
    const frames = [encodeWant([{ cid: a, kind: 'block' }]), encodeBlock(b, new Uint8Array(1000).fill(7)), encodeHave([a])]
    const joined = Buffer.concat(frames)
    const decoder = new FrameDecoder()
    const out: ExchangeMessage[] = []
    for (let i = 0; i < joined.byteLength; i++) out.push(...decoder.push(joined.subarray(i, i + 1)))
    assert.deepEqual(out.map(m => m.type), ['want', 'block', 'have'])
    assert.deepEqual(new FrameDecoder().push(joined).map(m => m.type), ['want', 'block', 'have'])
    assert.equal(decoder.bufferedBytes, 0)
  })

  it('copies frames out of pieces it may not keep: blocks into the allocator, spanning pieces, same bytes and CID', () => {
    const payload = randomBytes(40_000)
    const cid = chunkCid(payload)
    const frames = [encodeWant([{ cid: a, kind: 'block' }]), encodeBlock(cid, payload), encodeHave([a])]
    const joined = Buffer.concat(frames)
    const handedOut: Uint8Array[] = []
    const decoder = new FrameDecoder({ blocksInto: { allocate: (n) => { const out = new Uint8Array(n); handedOut.push(out); return out } } })
    // one reused read buffer, overwritten after every push, as a socket's onread delivers it
    const scratch = new Uint8Array(16_384)
    const out: ExchangeMessage[] = []
    for (let at = 0; at < joined.byteLength; at += 16_384) {
      const n = Math.min(16_384, joined.byteLength - at)
      scratch.set(joined.subarray(at, at + n))
      out.push(...decoder.push(scratch.subarray(0, n)))
      scratch.fill(0xee)
    }
    assert.deepEqual(out.map(m => m.type), ['want', 'block', 'have'])
    const block = out[1]
    assert.ok(block.type === 'block')
    assert.equal(handedOut.length, 1, 'only the BLOCK body comes from the allocator')
    assert.equal(block.bytes.buffer, handedOut[0].buffer)
    assert.ok(bytesMatchCid(cid, block.bytes), 'a block that spanned reads hashes to its CID')
    assert.deepEqual(block.cidBytes, cid.bytes)
    assert.equal(out[2].type === 'have' && out[2].cids[0].toString(), a.toString())
    assert.equal(decoder.bufferedBytes, 0)
    // a flipped byte in one read is a block that no longer matches
    const bad = Buffer.from(encodeBlock(cid, payload))
    bad[bad.byteLength - 1] ^= 1
    const [corrupted] = new FrameDecoder({ blocksInto: { allocate: (n) => new Uint8Array(n) } }).push(bad)
    assert.ok(corrupted.type === 'block' && !bytesMatchCid(cid, corrupted.bytes))
  })

  it('carries a RUN of blocks laid out as a pack holds them, shared by its blocks in the allocator', () => {
    const blocks = [randomBytes(20_000), randomBytes(0), randomBytes(3)].map(bytes => [chunkCid(bytes), bytes] as [typeof a, Uint8Array])
    const frame = encodeRun(blocks)
    // golden prefix: body length, type 6, then the first entry's u32 length, cid length, cid
    assert.equal(Buffer.from(frame.subarray(0, 10)).toString('hex'), (frame.byteLength - 4).toString(16).padStart(8, '0') + '06' + '00004e20' + '24')
    const shared: Array<[Uint8Array, number]> = []
    const decoder = new FrameDecoder({ blocksInto: { allocate: (n) => new Uint8Array(n), share: (bytes, count) => { shared.push([bytes, count]) } } })
    const out: ExchangeMessage[] = []
    for (let at = 0; at < frame.byteLength; at += 4096) out.push(...decoder.push(frame.subarray(at, at + 4096)))
    assert.equal(out.length, 1)
    const run = out[0]
    assert.ok(run.type === 'run')
    assert.equal(run.count, 3)
    assert.deepEqual(shared, [[run.body, 3]])
    const seen: Array<[string, string]> = []
    forEachRunEntry(run.body, (cidBytes, bytes) => { seen.push([Buffer.from(cidBytes).toString('hex'), Buffer.from(bytes).toString('hex')]); return true })
    assert.deepEqual(seen, blocks.map(([cid, bytes]) => [Buffer.from(cid.bytes).toString('hex'), Buffer.from(bytes).toString('hex')]))
    // the walk stops when asked to
    let visited = 0
    forEachRunEntry(run.body, () => { visited++; return false })
    assert.equal(visited, 1)
  })

  it('lets a transport read the rest of a block body right into its memory, with no copy', () => {
    const payload = randomBytes(50_000)
    const cid = chunkCid(payload)
    const frame = Buffer.concat([encodeBlock(cid, payload), encodeHave([a])])
    const handedOut: Uint8Array[] = []
    const decoder = new FrameDecoder({ blocksInto: { allocate: (n) => { const out = new Uint8Array(n); handedOut.push(out); return out } } })
    assert.equal(decoder.readTarget(), undefined, 'no body under way: read anywhere')
    // the header and the body's first bytes arrive in a read buffer and are copied
    assert.deepEqual(decoder.push(frame.subarray(0, 1000)), [])
    const out: ExchangeMessage[] = []
    let at = 1000
    const blockEnd = frame.byteLength - encodeHave([a]).byteLength
    while (at < blockEnd) {
      const target = decoder.readTarget()
      assert.ok(target !== undefined)
      assert.equal(target.buffer, handedOut[0].buffer, 'the rest goes into the block body itself')
      assert.ok(target.byteLength <= blockEnd - at, 'never past the end of the frame')
      const n = Math.min(16_384, target.byteLength)
      target.set(frame.subarray(at, at + n))
      out.push(...decoder.pushInPlace(n))
      at += n
    }
    assert.equal(decoder.readTarget(), undefined)
    out.push(...decoder.push(frame.subarray(at)))
    assert.deepEqual(out.map(m => m.type), ['block', 'have'])
    assert.ok(out[0].type === 'block' && bytesMatchCid(cid, out[0].bytes))
    assert.equal(handedOut.length, 1)
    assert.throws(() => decoder.pushInPlace(1), invalid, 'bytes in place with no body waiting')
  })

  it('rejects a RUN that breaks its grammar', () => {
    const body = (blocks: Array<[typeof a, Uint8Array]>): Uint8Array => encodeRun(blocks).subarray(4)
    const one = body([[a, new Uint8Array([1, 2])]])
    const cases: Array<[string, Uint8Array]> = [
      ['empty run', new Uint8Array([0x06])],
      ['entry cut short', one.subarray(0, one.byteLength - 1)],
      ['header cut short', one.subarray(0, 4)],
      ['trailing byte', Uint8Array.of(...one, 0)],
      ['garbage cid', Uint8Array.of(0x06, 0, 0, 0, 1, 4, 1, 2, 3, 4, 9)],
      ['length over the largest block', Uint8Array.of(0x06, 0x00, 0x40, 0x00, 0x01, 36, ...a.bytes)],
      ['more blocks than a message carries', body(new Array(MAX_CIDS_PER_MESSAGE + 1).fill([a, new Uint8Array(0)]))]
    ]
    for (const [name, bytes] of cases) assert.throws(() => decodeBody(bytes), invalid, name)
    assert.throws(() => encodeRunHeader(0), invalid)
    assert.throws(() => encodeRunHeader(MAX_FRAME_BODY_BYTES), invalid)
  })

  it('rejects an oversized frame in copying mode before allocating for it', () => {
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BODY_BYTES + 1)
    const decoder = new FrameDecoder({ blocksInto: { allocate: () => assert.fail('allocated for an oversized frame') } })
    assert.throws(() => decoder.push(header), invalid)
  })

  it('rejects an oversized frame from its header alone', () => {
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_FRAME_BODY_BYTES + 1)
    assert.throws(() => new FrameDecoder().push(header), invalid)
    assert.throws(() => new FrameDecoder().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])), invalid)
    assert.throws(() => new FrameDecoder().push(new Uint8Array([0, 0, 0, 0])), invalid)
  })

  it('refuses to encode what it could not decode', () => {
    assert.throws(() => encodeBlock(a, new Uint8Array(MAX_BLOCK_BYTES + 1)), invalid)
    assert.throws(() => encodeHave([]), invalid)
    assert.throws(() => encodeCancel(new Array(MAX_CIDS_PER_MESSAGE + 1).fill(a)), invalid)
    assert.doesNotThrow(() => encodeDontHave(new Array(MAX_CIDS_PER_MESSAGE).fill(a)))
  })

  it('rejects malformed bodies with ERR_INVALID_MESSAGE', () => {
    const cases: Array<[string, number[]]> = [
      ['unknown type', [0x09]],
      ['truncated list', [0x03, 0x00]],
      ['zero count', [0x03, 0x00, 0x00]],
      ['count over the bound', [0x03, 0x04, 0x01]],
      ['count larger than the entries', [0x03, 0x00, 0x02, 36, ...a.bytes]],
      ['trailing bytes', [0x03, 0x00, 0x01, 36, ...a.bytes, 0]],
      ['unknown want flag', [0x01, 0x00, 0x01, 0x04, 36, ...a.bytes]],
      ['cid length zero', [0x05, 0]],
      ['cid length past the end', [0x05, 60, 1, 2]],
      ['garbage cid', [0x05, 4, 1, 2, 3, 4, 9, 9]],
      // a well-formed CIDv1 with a codec Rok does not carry (dag-pb), and a v0-style prefix
      ['dag-pb cid', [0x05, 36, 0x01, 0x70, ...a.bytes.subarray(2), 9]],
      ['sha1-length digest', [0x03, 0x00, 0x01, 36, 0x01, 0x55, 0x12, 0x14, ...a.bytes.subarray(4)]],
      ['empty body', []]
    ]
    for (const [name, body] of cases) {
      assert.throws(() => decodeBody(new Uint8Array(body)), invalid, name)
    }
  })
})
