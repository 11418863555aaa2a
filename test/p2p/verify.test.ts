import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { chunkCid } from '../../protocol/cid.ts'
import { BlockVerifier } from '../../node/p2p/exchange/verify.ts'

describe('block verifier', () => {
  const verifiers = [new BlockVerifier(true), new BlockVerifier(false)]
  after(async () => { await Promise.all(verifiers.map(async v => { await v.stop() })) })

  for (const verifier of verifiers) {
    it(`accepts matching bytes and rejects others (${verifier === verifiers[0] ? 'worker' : 'inline'})`, async () => {
      for (const size of [1, 20_000, 1 << 20]) {
        const bytes = new Uint8Array(size).map((_, i) => (i * 31 + size) & 0xff)
        const cid = chunkCid(bytes)
        // a view into a larger buffer, as transports deliver, and a buffer of its own
        const framed = new Uint8Array(size + 10)
        framed.set(bytes, 5)
        const view = framed.subarray(5, 5 + size)
        for (const input of [view, Uint8Array.prototype.slice.call(bytes)]) {
          const result = await verifier.verify(cid, input)
          assert.ok(result.ok, `size ${size}`)
          assert.deepEqual(Buffer.from(result.bytes), Buffer.from(bytes))
        }
        const bad = Uint8Array.prototype.slice.call(bytes)
        bad[size >> 1] ^= 1
        assert.equal((await verifier.verify(cid, bad)).ok, false, `corrupt block of ${size} bytes accepted`)
      }
    })
  }
})
