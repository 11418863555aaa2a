/**
 * Sync's pure and in-process parts: the head protocol codec (golden bytes, bounds), the
 * announcement validator, and the allow list with the reverse index behind authorize.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { chunkCid, cidFor, DAG_CBOR_CODEC, parseCid } from '../../protocol/cid.ts'
import {
  decodeHeadRequest, decodeHeadResponse, encodeHeadRequest, encodeHeadResponse, MAX_HEAD_RESPONSE_BODY
} from '../../protocol/head.ts'
import { SingleFrameReader } from '../../protocol/frame.ts'
import { signVersionRecord } from '../../protocol/record.ts'
import { openEngine } from '../../node/engine.ts'
import { announcementValidator, bucketOfTopic, topicOf } from '../../node/sync/topic.ts'
import { peerOfAddr } from '../../node/sync/subscriptions.ts'
import { manifestBlocks } from '../../node/snapshot/index.ts'
import { RefIndex } from '../../node/sync/refs.ts'
import type { KeyValue } from '../../node/sync/kv.ts'
import type { CID } from '../../protocol/cid.ts'
import { Level } from 'level'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

function body (frame: Uint8Array): Uint8Array {
  const reader = new SingleFrameReader(MAX_HEAD_RESPONSE_BODY)
  const out = reader.push(frame)
  assert.ok(out !== undefined)
  return out
}

describe('head protocol codec', () => {
  it('pins the request and response bytes', () => {
    assert.equal(Buffer.from(encodeHeadRequest('a/b')).toString('hex'), '0000000401612f62')
    assert.equal(Buffer.from(encodeHeadResponse({ type: 'none' })).toString('hex'), '0000000101')
    assert.equal(Buffer.from(encodeHeadResponse({ type: 'record', bytes: Uint8Array.of(7, 8) })).toString('hex'), '00000003000708')
  })

  it('round-trips, and refuses malformed or oversized frames', () => {
    assert.deepEqual(decodeHeadRequest(body(encodeHeadRequest('acme/imagenet-small'))), { bucket: 'acme/imagenet-small' })
    const record = decodeHeadResponse(body(encodeHeadResponse({ type: 'record', bytes: seededBytes(1, 100) })))
    assert.equal(record.type, 'record')
    assert.throws(() => decodeHeadRequest(Uint8Array.of(1, ...new TextEncoder().encode('../etc'))), { code: 'ERR_INVALID_MESSAGE' })
    assert.throws(() => decodeHeadRequest(Uint8Array.of(9, 0x61, 0x2f, 0x62)), { code: 'ERR_INVALID_MESSAGE' })
    assert.throws(() => decodeHeadResponse(Uint8Array.of(1, 0)), { code: 'ERR_INVALID_MESSAGE' })
    assert.throws(() => decodeHeadResponse(new Uint8Array(MAX_HEAD_RESPONSE_BODY + 1)), { code: 'ERR_INVALID_MESSAGE' })
    assert.throws(() => encodeHeadRequest('not a bucket'), { code: 'ERR_INVALID_BUCKET_NAME' })
    // a declared length over the bound is refused before any body arrives
    const reader = new SingleFrameReader(130)
    assert.throws(() => reader.push(Uint8Array.of(0, 0, 1, 0)), { code: 'ERR_INVALID_MESSAGE' })
    // bytes after the one frame are a violation
    assert.throws(() => new SingleFrameReader(130).push(Uint8Array.of(0, 0, 0, 1, 1, 99)), { code: 'ERR_INVALID_MESSAGE' })
    // a frame split across pieces is reassembled
    const split = new SingleFrameReader(130)
    const frame = encodeHeadRequest('a/b')
    assert.equal(split.push(frame.subarray(0, 2)), undefined)
    assert.equal(split.push(frame.subarray(2, 5)), undefined)
    assert.deepEqual(decodeHeadRequest(split.push(frame.subarray(5))!), { bucket: 'a/b' })
  })
})

describe('announcements', () => {
  it('names topics per bucket and reads them back', () => {
    assert.equal(topicOf('acme/data'), '/rok/bucket/1/acme/data')
    assert.equal(bucketOfTopic('/rok/bucket/1/acme/data'), 'acme/data')
    assert.equal(bucketOfTopic('/rok/bucket/1/../x'), undefined)
    assert.equal(bucketOfTopic('other'), undefined)
  })

  it('the topic validator accepts a signed record of the bucket from its publisher and rejects everything else', async () => {
    const publisher = await generateKeyPair('Ed25519')
    const stranger = await generateKeyPair('Ed25519')
    const root = cidFor(DAG_CBOR_CODEC, new Uint8Array([1]))
    const record = async (bucket: string, key = publisher): Promise<Uint8Array> => (await signVersionRecord({ bucket, seq: 1, parent: null, root, kind: 'tree', size: 1, createdAt: 1, message: '' }, key)).bytes
    const from = peerIdFromPrivateKey(publisher)
    const message = (data: Uint8Array, type: 'signed' | 'unsigned' = 'signed'): Message => (type === 'signed'
      ? { type, from, topic: topicOf('acme/data'), data, sequenceNumber: 1n, signature: new Uint8Array(64), key: publisher.publicKey }
      : { type, topic: topicOf('acme/data'), data }) as Message
    const validate = announcementValidator('acme/data', () => from.toString())
    assert.equal(await validate(from, message(await record('acme/data'))), TopicValidatorResult.Accept)
    assert.equal(await validate(from, message(await record('acme/other'))), TopicValidatorResult.Reject, 'another bucket')
    assert.equal(await validate(from, message(await record('acme/data', stranger))), TopicValidatorResult.Reject, 'another publisher')
    assert.equal(await validate(from, message(await record('acme/data'), 'unsigned')), TopicValidatorResult.Reject, 'unsigned gossip')
    assert.equal(await validate(from, message(new TextEncoder().encode('version 2'))), TopicValidatorResult.Reject, 'not a record')
    const tampered = await record('acme/data')
    tampered[tampered.length - 1] ^= 1
    assert.equal(await validate(from, message(tampered)), TopicValidatorResult.Reject, 'bad signature')
    // with no publisher known (not followed), any verified record of the bucket passes
    assert.equal(await announcementValidator('acme/data', () => undefined)(from, message(await record('acme/data', stranger))), TopicValidatorResult.Accept)
  })

  it('a subscription address must name its peer', async () => {
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    assert.equal(peerOfAddr(`/ip4/127.0.0.1/tcp/4001/p2p/${peer}`), peer)
    assert.throws(() => peerOfAddr('/ip4/127.0.0.1/tcp/4001'), { code: 'ERR_INVALID_PEER' })
    assert.throws(() => peerOfAddr('nonsense'), { code: 'ERR_INVALID_PEER' })
  })
})

describe('allow lists and the reverse index', () => {
  it('a peer may have exactly the blocks that buckets it is allowed reference; the list persists', async () => {
    const [dir, cleanup] = await tempDir()
    const home = join(dir, 'home')
    const shared = seededBytes(1, 300_000)
    for (const [name, own] of [['one', 2], ['two', 3]] as const) {
      await mkdir(join(dir, name))
      await writeFile(join(dir, name, 'shared.bin'), shared)
      await writeFile(join(dir, name, 'own.bin'), seededBytes(own, 300_000))
    }
    const alice = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const bob = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let engine = await openEngine({ home, create: true })
    const blocksOf = async (bucket: string): Promise<Set<string>> => {
      const v = await engine.buckets.get(bucket)
      const out = new Set([v.cid.toString()])
      for await (const b of manifestBlocks(async cid => await engine.store.get(cid), v.record.root)) out.add(b.cid.toString())
      return out
    }
    const may = async (peer: string, cid: string): Promise<boolean> => await engine.sync.refs.referencedByAny(parseCid(cid), engine.sync.allow.bucketsFor(peer))
    try {
      await engine.snapshot(join(dir, 'one'), { bucket: 'g/one' })
      await engine.snapshot(join(dir, 'two'), { bucket: 'g/two' })
      assert.deepEqual(await engine.sync.allow.allow('g/one', alice), [alice])
      await assert.rejects(engine.sync.allow.allow('g/one', 'not-a-peer'), { code: 'ERR_INVALID_PEER' })
    } finally {
      await engine.close()
    }
    engine = await openEngine({ home })
    try {
      assert.ok(engine.sync.allow.isAllowed('g/one', alice), 'the allow list survives a reopen')
      const one = await blocksOf('g/one')
      const two = await blocksOf('g/two')
      for (const cid of one) assert.ok(await may(alice, cid), `alice may have ${cid} of g/one`)
      const onlyTwo = [...two].filter(c => !one.has(c))
      assert.ok(onlyTwo.length > 0)
      for (const cid of onlyTwo) assert.equal(await may(alice, cid), false, `alice may not have ${cid}, only g/two has it`)
      for (const cid of [...one, ...two]) assert.equal(await may(bob, cid), false, 'bob is on no list')
      assert.equal(await may(alice, chunkCid(new Uint8Array([42])).toString()), false, 'a CID no bucket references')
      await engine.sync.allow.deny('g/one', alice)
      for (const cid of one) assert.equal(await may(alice, cid), false, 'denied again')
    } finally {
      await engine.close()
      await cleanup()
    }
  })

  it('a v2 that changes one folder of a large tree indexes only what changed, yet a peer may have every block of v2, also after v1 is forgotten', async () => {
    const [dir, cleanup] = await tempDir()
    const src = join(dir, 'data')
    for (let d = 0; d < 20; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true })
      for (let f = 0; f < 10; f++) await writeFile(join(src, `d${d}`, `f${f}.bin`), seededBytes(d * 100 + f, f === 0 ? 200_000 : 3_000))
    }
    const alice = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const engine = await openEngine({ home: join(dir, 'home'), create: true })
    try {
      await engine.snapshot(src, { bucket: 'g/tree' })
      const v1 = await engine.buckets.get('g/tree')
      await writeFile(join(src, 'd7', 'f3.bin'), seededBytes(9_999, 3_000))
      await engine.snapshot(src, { bucket: 'g/tree' })
      const v2 = await engine.buckets.get('g/tree')
      // the same versions indexed into a fresh index: what each one writes
      const db = new Level<string, string>(join(dir, 'refs'))
      const refs = new RefIndex(db.sublevel<string, string>('refs', {}) as unknown as KeyValue)
      const get = async (cid: CID): Promise<Uint8Array> => await engine.store.get(cid)
      const full = await refs.addVersion('g/tree', v1.cid, v1.record.root, get)
      const update = await refs.addVersion('g/tree', v2.cid, v2.record.root, get, { parent: { record: v1.cid, root: v1.record.root } })
      const alone = await refs.addVersion('g/other', v2.cid, v2.record.root, get, { parent: { record: v1.cid, root: v1.record.root } })
      await db.close()
      assert.ok(full > 200, `v1 indexed ${full} blocks`)
      assert.ok(update > 0 && update < 30, `v2 indexed ${update} blocks; v1 needed ${full}`)
      // v1's count is no measure: this tree's manifest is 24 or 25 nodes from run to run, v1 and
      // v2 alike (entries hold mtimes, so leaf CIDs differ, and a leaf's CID decides whether a
      // branch node is cut after it: 1 in 64)
      let v2Blocks = 1
      for await (const _ of manifestBlocks(get, v2.record.root)) v2Blocks++
      assert.equal(alone, v2Blocks, 'a parent not indexed for that bucket is not trusted: every block of v2 is indexed')
      await engine.sync.allow.allow('g/tree', alice)
      await engine.forget('g/tree', { keepLast: 1 })
      assert.equal(await engine.sync.refs.indexed('g/tree', v1.cid), false)
      for await (const b of manifestBlocks(async cid => await engine.store.get(cid), v2.record.root)) {
        assert.ok(await engine.sync.refs.referencedByAny(b.cid, engine.sync.allow.bucketsFor(alice)), `alice may have ${b.type} ${b.cid.toString()} of v2`)
      }
    } finally {
      await engine.close()
      await cleanup()
    }
  })
})
