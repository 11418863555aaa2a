import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { chunkCid, cidFor, DAG_CBOR_CODEC } from '../../protocol/cid.ts'
import { CID } from 'multiformats/cid'
import { refKey } from '../../node/sync/ref-key.ts'

test('reverse-index keys written from CID bytes are the keys CID#toString gives, so existing indexes still match', () => {
  for (let i = 0; i < 200; i++) {
    const cid = i % 2 === 0 ? chunkCid(randomBytes(i)) : cidFor(DAG_CBOR_CODEC, randomBytes(i))
    const bucket = i % 3 === 0 ? 'acme/data-set_1' : 'grüppe/naïve'
    assert.equal(refKey('r', cid.bytes, bucket), `r!${cid.toString()}!${bucket}`)
    assert.equal(refKey('r', cid, bucket), `r!${cid.toString()}!${bucket}`)
  }
  // any byte length, including ones that leave 1–4 bits over
  for (let n = 1; n < 12; n++) {
    const bytes = randomBytes(n)
    const text = CID.decode(CID.createV1(0x55, { code: 0x00, size: n, digest: bytes, bytes: Uint8Array.from([0x00, n, ...bytes]) } as never).bytes).toString()
    assert.equal(refKey('d', CID.parse(text).bytes, 'x/y'), `d!${text}!x/y`)
  }
  // a bucket name longer than the scratch buffer
  const long = 'g/' + 'n'.repeat(2000)
  const cid = chunkCid(randomBytes(10))
  assert.equal(refKey('r', cid, long), `r!${cid.toString()}!${long}`)
})
