/**
 * The swarm's pure parts: the `/rok/have/1.0.0` codec (golden bytes, every bound refused),
 * the SwarmView a sync reads (who holds a span, whose claims are live, who still fetches)
 * on a fake clock, and the ranges a node states of itself.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { cidFor, DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { decodeHave, encodeHave, MAX_HAVE_BODY, MAX_HAVE_RANGES, type Have } from '../../protocol/have.ts'
import { SingleFrameReader } from '../../protocol/frame.ts'
import { ownRanges, SwarmView } from '../../node/sync/swarm-view.ts'

const version = cidFor(DAG_CBOR_CODEC, Uint8Array.of(1, 2, 3))

function body (frame: Uint8Array): Uint8Array {
  const out = new SingleFrameReader(MAX_HAVE_BODY).push(frame)
  assert.ok(out !== undefined)
  return out
}

function refused (bytes: Uint8Array): void {
  assert.throws(() => decodeHave(bytes), (err: Error & { code?: string }) => err.code === 'ERR_INVALID_MESSAGE')
}

describe('have protocol codec', () => {
  const have: Have = { bucket: 'a/b', version, chunks: 10, ranges: [{ start: 0, end: 4, state: 'stored' }, { start: 6, end: 8, state: 'fetching' }] }

  it('pins the bytes and round-trips', () => {
    const bytes = body(encodeHave(have))
    const hex = Buffer.from(bytes).toString('hex')
    assert.equal(hex.slice(0, 10), '0103612f62', 'type HAVE, bucket length 3, "a/b"')
    assert.equal(hex.slice(10 + 2 + 72), '0000000a' + '0002' + '000000000000000402' + '000000060000000801')
    const back = decodeHave(bytes)
    assert.ok(back.version.equals(version))
    assert.deepEqual({ ...back, version: undefined }, { ...have, version: undefined })
    assert.deepEqual(decodeHave(body(encodeHave({ ...have, chunks: 0, ranges: [] }))).ranges, [])
  })

  it('refuses what is out of bounds or malformed', () => {
    const good = body(encodeHave(have))
    refused(good.slice(0, good.byteLength - 1)) // cut short
    refused(Uint8Array.of(...good, 0)) // trailing byte
    const badType = good.slice(); badType[0] = 2; refused(badType)
    const badState = good.slice(); badState[badState.byteLength - 1] = 3; refused(badState)
    const badBucket = good.slice(); badBucket[2] = 0x41; refused(badBucket) // "A/b": not a bucket name
    refused(new Uint8Array(MAX_HAVE_BODY + 1))
    const mk = (ranges: Have['ranges'], chunks = 10): Uint8Array => {
      // encode refuses too; build the body by hand from a valid one
      const b = body(encodeHave({ ...have, chunks, ranges: ranges.map(() => ({ start: 0, end: 1, state: 'stored' as const })).slice(0, 1) }))
      const head = b.subarray(0, b.byteLength - 9 - 2)
      const out = new Uint8Array(head.byteLength + 2 + ranges.length * 9)
      out.set(head)
      const view = new DataView(out.buffer)
      view.setUint16(head.byteLength, ranges.length)
      ranges.forEach((r, i) => {
        view.setUint32(head.byteLength + 2 + i * 9, r.start)
        view.setUint32(head.byteLength + 6 + i * 9, r.end)
        out[head.byteLength + 10 + i * 9] = r.state === 'stored' ? 2 : 1
      })
      return out
    }
    assert.deepEqual(decodeHave(mk([{ start: 0, end: 1, state: 'stored' }])).ranges, [{ start: 0, end: 1, state: 'stored' }], 'the hand-built body is valid as such')
    refused(mk([{ start: 2, end: 2, state: 'stored' }])) // empty
    refused(mk([{ start: 0, end: 11, state: 'stored' }])) // past the chunk count
    refused(mk([{ start: 4, end: 6, state: 'stored' }, { start: 5, end: 7, state: 'fetching' }])) // overlapping
    refused(mk([{ start: 6, end: 7, state: 'stored' }, { start: 0, end: 2, state: 'fetching' }])) // unsorted
    assert.throws(() => encodeHave({ ...have, ranges: [{ start: 0, end: 11, state: 'stored' }] }), { code: 'ERR_INVALID_MESSAGE' })
    assert.throws(() => encodeHave({ ...have, chunks: 1e6, ranges: Array.from({ length: MAX_HAVE_RANGES + 1 }, (_, i) => ({ start: 2 * i, end: 2 * i + 1, state: 'stored' as const })) }), { code: 'ERR_INVALID_MESSAGE' })
  })
})

describe('SwarmView', () => {
  it('says who holds a span, whose claims are live, and who still fetches', () => {
    let now = 1000
    const view = new SwarmView(10, { now: () => now, claimTtlMs: 100 })
    const changes: number[] = []
    view.subscribe(() => changes.push(now))
    view.update('A', [{ start: 0, end: 4, state: 'stored' }, { start: 4, end: 6, state: 'stored' }, { start: 6, end: 8, state: 'fetching' }])
    view.update('B', [{ start: 0, end: 10, state: 'stored' }])
    assert.deepEqual(view.holders(2, 6), ['A', 'B'], 'adjacent stored ranges join')
    assert.deepEqual(view.holders(5, 7), ['B'])
    assert.equal(view.claimed(7, 9), true)
    assert.equal(view.claimed(8, 10), false)
    assert.deepEqual(view.active(), ['A'], 'B holds everything')
    now += 101
    assert.equal(view.claimed(7, 9), false, 'a claim not restated lapses')
    assert.deepEqual(view.holders(2, 6), ['A', 'B'], 'what a fellow stored is believed all along')
    assert.deepEqual(view.active(), [], 'a fellow silent past the claim time is not counted as fetching')
    view.update('A', [{ start: 0, end: 10, state: 'stored' }])
    assert.deepEqual(changes, [1000, 1000, 1101])
    assert.ok(view.knows('A') && !view.knows('C'))
  })

  it('states a node\'s own ranges: gaps and stored spans stored, publisher batches fetching, joined', () => {
    const spans = [{ start: 0, end: 3 }, { start: 5, end: 8 }, { start: 8, end: 9 }]
    const state = ['stored', 'fetching', undefined] as const
    assert.deepEqual(ownRanges(spans, 12, i => state[i], 100), [
      { start: 0, end: 5, state: 'stored' },
      { start: 5, end: 8, state: 'fetching' },
      { start: 9, end: 12, state: 'stored' }
    ])
    assert.deepEqual(ownRanges(spans, 12, () => 'stored', 100), [{ start: 0, end: 12, state: 'stored' }])
    assert.equal(ownRanges(spans, 12, i => state[i], 1).length, 1, 'past the bound it says less')
  })
})
