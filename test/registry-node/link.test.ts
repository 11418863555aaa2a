/**
 * The registry link on a fake clock with a scripted registry client (no network): key
 * pinning and a changed key, the outbox delivered in order once the registry answers,
 * grant renewal at half the lifetime, and a refused renewal reported.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { peerIdOfSigner } from '../../protocol/ed25519.ts'
import { RokError } from '../../protocol/errors.ts'
import { signGrant } from '../../protocol/grant.ts'
import type { RegistryClient } from '../../registry/client.ts'
import { RegistryLink } from '../../node/registry/link.ts'
import type { HeadHost } from '../../node/sync/head.ts'
import { tempDir } from '../fixtures/seeded.ts'
import { memoryKv } from './memory-kv.ts'

const host: HeadHost = {
  handle: async () => {},
  unhandle: async () => {},
  dialProtocol: async () => { throw new Error('no network in this test') }
}

/** A registry client whose answers the test scripts: `down` makes every call unreachable. */
function scriptedRegistry (key: PrivateKey, clock: () => number) {
  const state = { down: false, appended: [] as number[], announced: [] as string[], registered: 0, grantsIssued: 0, refuseGrants: false }
  const check = (): void => { if (state.down) throw new RokError('ERR_REGISTRY_UNAVAILABLE', 'registry http://registry.test is unreachable') }
  const client: Partial<RegistryClient> = {
    url: 'http://registry.test',
    publicKey: async () => { check(); return key.publicKey },
    registerNode: async (nodeKey) => { check(); state.registered++; return { peer: peerIdOfSigner(nodeKey) } as any },
    info: async () => { check(); return { peerId: '', publicKey: '', grantTtlMs: 60_000, providerTtlMs: 30_000 } },
    announceProvider: async (bucket, _peer, seq) => {
      check()
      if (!bucket.startsWith('lab/')) throw new RokError('ERR_NOT_FOUND', `bucket ${bucket} not found`)
      state.announced.push(`${bucket}@${seq}`)
      return {} as any
    },
    appendVersion: async (_bucket, record) => { check(); state.appended.push(record[0]); return {} as any },
    requestGrant: async (bucket, peer) => {
      check()
      if (state.refuseGrants) throw new RokError('ERR_NOT_FOUND', `bucket ${bucket} not found`)
      state.grantsIssued++
      const now = clock()
      return await signGrant({ peer, bucket, rights: ['read'], issuedAt: now, expires: now + 60_000 }, key)
    }
  }
  return { state, client: client as RegistryClient }
}

/** A link to `client` with in-memory outbox and grants; `extra` sets the clock and timings. */
async function openLink (home: string, nodeKey: PrivateKey, client: RegistryClient, extra: Partial<Parameters<typeof RegistryLink.open>[0]>): Promise<RegistryLink> {
  return await RegistryLink.open({ url: client.url, token: 't', home, key: nodeKey, peerId: peerIdFromPrivateKey(nodeKey).toString(), addrs: () => [], host, outbox: memoryKv(), grants: memoryKv(), client, ...extra })
}

async function until (what: string, probe: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!await probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

describe('registry link', () => {
  it('pins the registry key on first contact and refuses a registry that later shows another key', async () => {
    const [home, cleanup] = await tempDir('rok-link-')
    try {
      const nodeKey = await generateKeyPair('Ed25519')
      const registryKey = await generateKeyPair('Ed25519')
      const base = { url: 'http://registry.test', token: 't', home, key: nodeKey, peerId: peerIdFromPrivateKey(nodeKey).toString(), addrs: () => [], host, tickMs: 10, retryMinMs: 10, retryMaxMs: 20 }
      const first = scriptedRegistry(registryKey, Date.now)
      const link = await RegistryLink.open({ ...base, outbox: memoryKv(), grants: memoryKv(), client: first.client })
      await link.start()
      await until('registration', async () => (await link.status()).registered)
      await link.stop()
      assert.ok((await readFile(join(home, 'registry-key.json'), 'utf8')).includes('"publicKey"'))

      const impostor = scriptedRegistry(await generateKeyPair('Ed25519'), Date.now)
      const again = await RegistryLink.open({ ...base, outbox: memoryKv(), grants: memoryKv(), client: impostor.client })
      await again.start()
      await until('a refused key', async () => (await again.status()).error !== undefined)
      const status = await again.status()
      await again.stop()
      assert.equal(status.error?.code, 'ERR_REGISTRY_KEY_CHANGED')
      assert.equal(status.registered, false)
      assert.equal(impostor.state.registered, 0, 'the node did not register with the impostor')
    } finally {
      await cleanup()
    }
  })

  it('queues references while the registry is down and delivers them in order when it answers', async () => {
    const [home, cleanup] = await tempDir('rok-link-')
    try {
      const nodeKey = await generateKeyPair('Ed25519')
      const reg = scriptedRegistry(await generateKeyPair('Ed25519'), Date.now)
      reg.state.down = true
      const link = await openLink(home, nodeKey, reg.client, { tickMs: 10, retryMinMs: 10, retryMaxMs: 40 })
      await link.start()
      const one = await link.recordVersion('lab/data', 1, new Uint8Array([1]))
      const two = await link.recordVersion('lab/data', 2, new Uint8Array([2]))
      assert.equal(one.state, 'queued')
      assert.deepEqual(two, { state: 'queued', pending: 2, error: { code: 'ERR_REGISTRY_UNAVAILABLE', message: 'lab/data@1: registry http://registry.test is unreachable' } })
      const waiting = await link.status()
      assert.equal(waiting.outbox.pending, 2)
      assert.equal(waiting.outbox.oldest?.seq, 1)
      reg.state.down = false
      await until('the outbox to drain', async () => (await link.status()).outbox.pending === 0)
      assert.deepEqual(reg.state.appended, [1, 2])
      const three = await link.recordVersion('lab/data', 3, new Uint8Array([3]))
      assert.deepEqual(three, { state: 'recorded', pending: 0 })
      await link.stop()
      assert.deepEqual(reg.state.appended, [1, 2, 3])
    } finally {
      await cleanup()
    }
  })

  it('keeps this node listed as a provider: re-announces held buckets every third of the provider lifetime, and soon again after an outage', async () => {
    const [home, cleanup] = await tempDir('rok-link-')
    try {
      let now = 1_800_000_000_000
      const clock = (): number => now
      const nodeKey = await generateKeyPair('Ed25519')
      const reg = scriptedRegistry(await generateKeyPair('Ed25519'), clock)
      const held = async (): Promise<Array<{ bucket: string, seq: number }>> => [{ bucket: 'lab/data', seq: 3 }, { bucket: 'local/scratch', seq: 1 }]
      const link = await openLink(home, nodeKey, reg.client, { now: clock, held, tickMs: 10, retryMinMs: 10, retryMaxMs: 2_000 })
      await link.start()
      await until('the first refresh after registering', () => reg.state.announced.length === 1)
      assert.deepEqual(reg.state.announced, ['lab/data@3'], 'a local-only bucket the registry does not know is skipped')
      now += 9_000
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(reg.state.announced.length, 1, 'not before a third of the 30 s lifetime')
      now += 1_500
      await until('a refresh', () => reg.state.announced.length === 2)
      reg.state.down = true
      now += 10_500
      await new Promise(resolve => setTimeout(resolve, 100))
      reg.state.down = false
      now += 2_000
      await until('a retry well before the record lapses', () => reg.state.announced.length === 3)
      assert.deepEqual(reg.state.announced, ['lab/data@3', 'lab/data@3', 'lab/data@3'])
      await link.stop()
    } finally {
      await cleanup()
    }
  })

  it('a subscription by address still gets a grant when the registry answers, and goes on without one when it does not', async () => {
    const [home, cleanup] = await tempDir('rok-link-')
    try {
      const nodeKey = await generateKeyPair('Ed25519')
      const reg = scriptedRegistry(await generateKeyPair('Ed25519'), Date.now)
      reg.state.down = true
      const link = await openLink(home, nodeKey, reg.client, { tickMs: 60_000 })
      await link.start()
      assert.equal(await link.tryGrant('lab/data'), false, 'registry down: no grant, no error')
      assert.ok(!link.hasGrant('lab/data'))
      reg.state.down = false
      assert.equal(await link.tryGrant('lab/data'), true)
      assert.ok(link.hasGrant('lab/data'), 'held, so it is presented to peers and renewed')
      assert.equal((await link.status()).grants[0].bucket, 'lab/data')
      await link.stop()
    } finally {
      await cleanup()
    }
  })

  it('renews a held grant at half its lifetime and reports a refused renewal, keeping the grant until it expires', async () => {
    const [home, cleanup] = await tempDir('rok-link-')
    try {
      let now = 1_800_000_000_000
      const clock = (): number => now
      const nodeKey = await generateKeyPair('Ed25519')
      const reg = scriptedRegistry(await generateKeyPair('Ed25519'), clock)
      const link = await openLink(home, nodeKey, reg.client, { now: clock, tickMs: 10, retryMinMs: 10, retryMaxMs: 20 })
      await link.start()
      await until('registration', async () => (await link.status()).registered)
      reg.client.getBucket = async () => ({ latestSeq: 1 } as any)
      reg.client.listProviders = async () => []
      reg.client.getVersion = async () => { throw new RokError('ERR_NOT_FOUND', 'no such version') }
      await assert.rejects(link.resolve('lab/data'), { code: 'ERR_NOT_FOUND' })
      assert.equal(reg.state.grantsIssued, 1, 'the grant was obtained before the bucket was resolved')
      assert.ok(link.hasGrant('lab/data'))
      const first = (await link.status()).grants[0].expires
      now += 29_000
      await new Promise(resolve => setTimeout(resolve, 100))
      assert.equal(reg.state.grantsIssued, 1, 'not renewed before half its lifetime')
      now += 2_000
      await until('a renewal', () => reg.state.grantsIssued === 2)
      assert.ok((await link.status()).grants[0].expires > first)
      reg.state.refuseGrants = true
      now += 31_000
      await until('a refused renewal', async () => (await link.status()).grants[0].error !== undefined)
      assert.equal((await link.status()).grants[0].error?.code, 'ERR_NOT_FOUND')
      assert.ok(link.hasGrant('lab/data'), 'the current grant counts until it expires')
      now += 30_000
      assert.ok(!link.hasGrant('lab/data'), 'then it lapses: revocation within one lifetime')
      await link.stop()
    } finally {
      await cleanup()
    }
  })
})
