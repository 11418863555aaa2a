import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as dagCbor from '@ipld/dag-cbor'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeGrant, grantAllows, signGrant, verifyGrant } from '../../protocol/grant.ts'
import { signVersionRecord } from '../../protocol/record.ts'
import { chunkCid } from '../../protocol/cid.ts'
import { isRokError } from '../../protocol/errors.ts'

const NOW = 1_800_000_000_000

async function fixture (): Promise<{ registryKey: Awaited<ReturnType<typeof generateKeyPair>>, peer: string }> {
  const registryKey = await generateKeyPair('Ed25519')
  const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return { registryKey, peer }
}

test('a node accepts a grant signed by its registry within its lifetime, offline', async () => {
  const { registryKey, peer } = await fixture()
  const { bytes } = await signGrant({ peer, bucket: 'acme/imagenet', rights: ['read'], issuedAt: NOW, expires: NOW + 60_000 }, registryKey)
  const grant = await verifyGrant(bytes, registryKey.publicKey, NOW + 1000)
  assert.equal(grant.bucket, 'acme/imagenet')
  assert.ok(grantAllows(grant, peer, 'acme/imagenet', 'read'))
  assert.ok(!grantAllows(grant, peer, 'acme/imagenet', 'publish'))
  assert.ok(!grantAllows(grant, peer, 'acme/other', 'read'))
})

test('an expired grant is refused with ERR_GRANT_EXPIRED, so revocation takes effect within one lifetime', async () => {
  const { registryKey, peer } = await fixture()
  const { bytes } = await signGrant({ peer, bucket: 'acme/x', rights: ['read'], issuedAt: NOW, expires: NOW + 60_000 }, registryKey)
  await assert.rejects(verifyGrant(bytes, registryKey.publicKey, NOW + 60_000), (e: unknown) => isRokError(e, 'ERR_GRANT_EXPIRED'))
})

test('a grant from another registry or with edited fields fails its signature check', async () => {
  const { registryKey, peer } = await fixture()
  const other = await generateKeyPair('Ed25519')
  const { bytes, grant } = await signGrant({ peer, bucket: 'acme/x', rights: ['read'], issuedAt: NOW, expires: NOW + 60_000 }, registryKey)
  await assert.rejects(verifyGrant(bytes, other.publicKey, NOW), (e: unknown) => isRokError(e, 'ERR_BAD_SIGNATURE'))
  const widened = dagCbor.encode({ ...grant, rights: ['publish', 'read'] })
  await assert.rejects(verifyGrant(widened, registryKey.publicKey, NOW), (e: unknown) => isRokError(e, 'ERR_BAD_SIGNATURE'))
  const longer = { ...grant, expires: grant.expires + 1 }
  await assert.rejects(verifyGrant(longer, registryKey.publicKey, NOW), (e: unknown) => isRokError(e, 'ERR_BAD_SIGNATURE'))
})

test('a version record signature cannot be passed off as a grant (domain tags differ)', async () => {
  const { registryKey } = await fixture()
  const peer = peerIdFromPrivateKey(registryKey).toString()
  const rec = await signVersionRecord({ bucket: 'acme/x', seq: 1, parent: null, root: chunkCid(new Uint8Array([1])), kind: 'tree', size: 1, createdAt: NOW, message: '' }, registryKey)
  const forged = dagCbor.encode({ peer, bucket: 'acme/x', rights: ['read'], issuedAt: NOW, expires: NOW + 1000, signature: rec.record.signature })
  await assert.rejects(verifyGrant(forged, registryKey.publicKey, NOW), (e: unknown) => isRokError(e, 'ERR_BAD_SIGNATURE'))
})

test('malformed grants are refused with ERR_INVALID_GRANT naming the problem', async () => {
  const { registryKey, peer } = await fixture()
  const { grant } = await signGrant({ peer, bucket: 'acme/x', rights: ['read'], issuedAt: NOW, expires: NOW + 1000 }, registryKey)
  const cases: Array<[string, unknown]> = [
    ['not a map', [1, 2]],
    ['unknown right', { ...grant, rights: ['write'] }],
    ['bad bucket', { ...grant, bucket: '../etc' }],
    ['bad peer', { ...grant, peer: 'nope' }],
    ['extra field', { ...grant, admin: true }],
    ['expires before issue', { ...grant, expires: grant.issuedAt - 1 }]
  ]
  for (const [what, value] of cases) {
    assert.throws(() => decodeGrant(dagCbor.encode(value)), (e: unknown) => isRokError(e) && /ERR_INVALID_(GRANT|BUCKET_NAME)/.test(e.code), what)
  }
  assert.throws(() => decodeGrant(new Uint8Array([0xff, 0x00])), (e: unknown) => isRokError(e, 'ERR_INVALID_GRANT'))
  assert.throws(() => decodeGrant(new Uint8Array(4096)), (e: unknown) => isRokError(e, 'ERR_INVALID_GRANT'))
})

test('grant rights are normalized: sorted and without duplicates', async () => {
  const { registryKey, peer } = await fixture()
  const { grant } = await signGrant({ peer, bucket: 'acme/x', rights: ['read', 'publish', 'read'], issuedAt: NOW, expires: NOW + 1000 }, registryKey)
  assert.deepEqual(grant.rights, ['publish', 'read'])
})
