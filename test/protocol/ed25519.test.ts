/**
 * Node keys on Node's own crypto must be interchangeable with libp2p's: same key file,
 * same peer ID, signatures each side verifies — or a node would change identity, or
 * its records would fail to verify on peers, after this change.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Ed25519Key, peerIdOfPublicKey, publicKeyOfPeerId, verifyEd25519 } from '../../protocol/ed25519.ts'

const data = new TextEncoder().encode('rok version record')

test('a libp2p key file loads as the same node: same peer ID, and each side verifies the other’s signatures', async () => {
  const libp2pKey = await generateKeyPair('Ed25519')
  const ours = Ed25519Key.fromProtobuf(privateKeyToProtobuf(libp2pKey))
  assert.equal(ours.peerId, peerIdFromPrivateKey(libp2pKey).toString())
  assert.ok(await libp2pKey.publicKey.verify(data, ours.sign(data)), 'libp2p verifies our signature')
  assert.ok(verifyEd25519(publicKeyOfPeerId(ours.peerId), data, await libp2pKey.sign(data)), 'we verify libp2p’s signature')
  assert.deepEqual(ours.toProtobuf(), privateKeyToProtobuf(libp2pKey), 'written back byte for byte')
})

test('a generated key is a valid libp2p key with the same peer ID', () => {
  const ours = Ed25519Key.generate()
  const libp2pKey = privateKeyFromProtobuf(ours.toProtobuf())
  assert.equal(libp2pKey.type, 'Ed25519')
  assert.equal(peerIdFromPrivateKey(libp2pKey).toString(), ours.peerId)
  assert.equal(peerIdOfPublicKey(ours.publicKey.raw), ours.peerId)
})

test('a signature over other bytes, by another key, or of the wrong length does not verify', () => {
  const a = Ed25519Key.generate()
  const b = Ed25519Key.generate()
  const sig = a.sign(data)
  assert.ok(verifyEd25519(a.publicKey.raw, data, sig))
  assert.ok(!verifyEd25519(b.publicKey.raw, data, sig))
  assert.ok(!verifyEd25519(a.publicKey.raw, new TextEncoder().encode('rok version recorD'), sig))
  assert.ok(!verifyEd25519(a.publicKey.raw, data, sig.subarray(1)))
})

test('peer IDs that are not Ed25519 or not peer IDs at all are refused with a message saying so', async () => {
  const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
  assert.throws(() => publicKeyOfPeerId(secp), { code: 'ERR_INVALID_PEER_ID', message: /not an Ed25519 peer ID/ })
  assert.throws(() => publicKeyOfPeerId('not-a-peer-id!'), { code: 'ERR_INVALID_PEER_ID', message: /is not a peer ID/ })
  assert.throws(() => publicKeyOfPeerId(''), { code: 'ERR_INVALID_PEER_ID' })
})

test('a key file of another key type, truncated, or whose public half does not match its seed is refused', async () => {
  const secp = privateKeyToProtobuf(await generateKeyPair('secp256k1'))
  assert.throws(() => Ed25519Key.fromProtobuf(secp), { code: 'ERR_INVALID_PRIVATE_KEY', message: /secp256k1 key; a Rok node key is Ed25519/ })
  const good = Ed25519Key.generate().toProtobuf()
  assert.throws(() => Ed25519Key.fromProtobuf(good.subarray(0, 40)), { code: 'ERR_INVALID_PRIVATE_KEY' })
  const corrupt = good.slice()
  corrupt[corrupt.length - 1] ^= 1
  assert.throws(() => Ed25519Key.fromProtobuf(corrupt), { code: 'ERR_INVALID_PRIVATE_KEY', message: /does not match/ })
})
