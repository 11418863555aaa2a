/**
 * Units of the node's registry link, without a network: the `/rok/grant/1.0.0` codec and
 * its bounds, the cache of grants peers presented (verification, expiry, caps) and the
 * outbox (order, durability across reopen, stop-at-failure).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { isRokError } from '../../protocol/errors.ts'
import { MAX_GRANT_BYTES, signGrant } from '../../protocol/grant.ts'
import {
  decodeGrantPush, decodeGrantPushResponse, encodeGrantPush, encodeGrantPushResponse, MAX_GRANT_REQUEST_BODY
} from '../../protocol/grant-push.ts'
import { SingleFrameReader } from '../../protocol/frame.ts'
import { PeerGrants } from '../../node/registry/peer-grants.ts'
import { Outbox } from '../../node/registry/outbox.ts'
import { RokError } from '../../protocol/errors.ts'
import { memoryKv } from './memory-kv.ts'

const NOW = 1_800_000_000_000

function body (frame: Uint8Array, max: number): Uint8Array {
  const out = new SingleFrameReader(max).push(frame)
  assert.ok(out !== undefined)
  return out
}

describe('/rok/grant/1.0.0 codec', () => {
  it('round-trips a grant push and both answers', () => {
    const grant = new Uint8Array([1, 2, 3, 4])
    assert.deepEqual(decodeGrantPush(body(encodeGrantPush(grant), MAX_GRANT_REQUEST_BODY)), grant)
    assert.deepEqual(decodeGrantPushResponse(body(encodeGrantPushResponse({ type: 'accepted', expires: NOW }), 100)), { type: 'accepted', expires: NOW })
    assert.deepEqual(decodeGrantPushResponse(body(encodeGrantPushResponse({ type: 'refused', code: 'ERR_GRANT_EXPIRED' }), 100)), { type: 'refused', code: 'ERR_GRANT_EXPIRED' })
  })

  it('refuses oversized, empty and unknown messages with ERR_INVALID_MESSAGE', () => {
    const invalid = (e: unknown): boolean => isRokError(e, 'ERR_INVALID_MESSAGE')
    assert.throws(() => encodeGrantPush(new Uint8Array(MAX_GRANT_BYTES + 1)), invalid)
    assert.throws(() => encodeGrantPush(new Uint8Array(0)), invalid)
    assert.throws(() => decodeGrantPush(new Uint8Array([0x02, 1])), invalid)
    assert.throws(() => decodeGrantPush(new Uint8Array(MAX_GRANT_REQUEST_BODY + 1).fill(1)), invalid)
    assert.throws(() => decodeGrantPushResponse(new Uint8Array([0x00, 1, 2])), invalid)
    assert.throws(() => decodeGrantPushResponse(new Uint8Array([0x01, 0x20])), invalid)
    assert.throws(() => encodeGrantPushResponse({ type: 'refused', code: 'x'.repeat(65) }), invalid)
    // a frame header announcing more than the bound is refused before its body is read
    const header = new Uint8Array(4)
    new DataView(header.buffer).setUint32(0, MAX_GRANT_REQUEST_BODY + 1)
    assert.throws(() => new SingleFrameReader(MAX_GRANT_REQUEST_BODY).push(header), invalid)
  })
})

describe('grants peers present', () => {
  it('serves a bucket only for a grant signed by the pinned key, for that peer, until it expires', async () => {
    const registry = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const thief = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    let now = NOW
    const grants = new PeerGrants({ registryKey: () => registry.publicKey, now: () => now })
    const { bytes } = await signGrant({ peer, bucket: 'acme/private', rights: ['read'], issuedAt: NOW, expires: NOW + 60_000 }, registry)
    assert.deepEqual(grants.buckets(peer), [])
    await grants.accept(peer, bytes)
    assert.deepEqual(grants.buckets(peer), ['acme/private'])
    assert.ok(grants.allows(peer, 'acme/private'))
    assert.ok(!grants.allows(peer, 'acme/other'))
    // a grant shown by another peer than the one it names is refused
    await assert.rejects(grants.accept(thief, bytes), (e: unknown) => isRokError(e, 'ERR_GRANT_NOT_FOR_PEER'))
    assert.deepEqual(grants.buckets(thief), [])
    // another registry's grant is refused
    const forged = await signGrant({ peer: thief, bucket: 'acme/private', rights: ['read'], issuedAt: NOW, expires: NOW + 60_000 }, other)
    await assert.rejects(grants.accept(thief, forged.bytes), (e: unknown) => isRokError(e, 'ERR_BAD_SIGNATURE'))
    // expiry: revocation takes effect within one grant lifetime
    now = NOW + 60_000
    assert.deepEqual(grants.buckets(peer), [])
    await assert.rejects(grants.accept(peer, bytes), (e: unknown) => isRokError(e, 'ERR_GRANT_EXPIRED'))
  })

  it('refuses every grant while no registry key is pinned, and keeps its caches bounded', async () => {
    const registry = await generateKeyPair('Ed25519')
    let key: typeof registry.publicKey | undefined
    const grants = new PeerGrants({ registryKey: () => key, now: () => NOW, maxPeers: 2, maxPerPeer: 2 })
    const peers = await Promise.all([1, 2, 3].map(async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))
    const grant = async (peer: string, bucket: string): Promise<Uint8Array> => (await signGrant({ peer, bucket, rights: ['read'], issuedAt: NOW, expires: NOW + 1000 }, registry)).bytes
    await assert.rejects(grants.accept(peers[0], await grant(peers[0], 'a/b')), (e: unknown) => isRokError(e, 'ERR_NO_REGISTRY_KEY'))
    key = registry.publicKey
    for (const bucket of ['a/one', 'a/two', 'a/three']) await grants.accept(peers[0], await grant(peers[0], bucket))
    assert.deepEqual(grants.buckets(peers[0]), ['a/two', 'a/three'])
    await grants.accept(peers[1], await grant(peers[1], 'a/one'))
    await grants.accept(peers[2], await grant(peers[2], 'a/one'))
    assert.deepEqual(grants.buckets(peers[0]), [], 'the oldest peer was evicted beyond maxPeers')
    assert.deepEqual(grants.buckets(peers[2]), ['a/one'])
  })
})

describe('outbox', () => {
  it('delivers in publish order, stops at a failure keeping the entry first, survives reopening', async () => {
    const kv = memoryKv()
    const outbox = await Outbox.open(kv)
    for (let seq = 1; seq <= 3; seq++) await outbox.add('acme/x', seq, new Uint8Array([seq]), NOW + seq)
    const seen: number[] = []
    let down = true
    const send = async (e: { seq: number }): Promise<void> => {
      if (down && e.seq === 2) throw new RokError('ERR_REGISTRY_UNAVAILABLE', 'registry is unreachable')
      seen.push(e.seq)
    }
    const first = await outbox.deliver(send, new AbortController().signal)
    assert.deepEqual(first, { delivered: 1, pending: 2, error: { code: 'ERR_REGISTRY_UNAVAILABLE', message: 'registry is unreachable', bucket: 'acme/x', seq: 2 } })
    // a crash here: the queue is in the db, reopened by the next daemon
    const reopened = await Outbox.open(kv)
    assert.equal(reopened.pending, 2)
    await reopened.add('acme/x', 4, new Uint8Array([4]), NOW + 4)
    down = false
    const second = await reopened.deliver(send, new AbortController().signal)
    assert.deepEqual(second, { delivered: 3, pending: 0 })
    assert.deepEqual(seen, [1, 2, 3, 4])
    assert.equal(kv.data.size, 0)
  })

  it('is bounded: a full outbox refuses with ERR_OUTBOX_FULL', async () => {
    const outbox = await Outbox.open(memoryKv(), 1)
    await outbox.add('acme/x', 1, new Uint8Array([1]), NOW)
    await assert.rejects(outbox.add('acme/x', 2, new Uint8Array([2]), NOW), (e: unknown) => isRokError(e, 'ERR_OUTBOX_FULL'))
  })
})
