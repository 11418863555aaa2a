/**
 * A sync whose peers cannot be reached says so, and says what to do: it does not blame
 * the allow list (ERR_NO_HEAD) nor report every block missing (ERR_BLOCKS_MISSING).
 * Real parts: a real libp2p host and exchange dialling a closed port, a real daemon.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { openEngine } from '../../node/engine.ts'
import { createRokHost } from '../../node/p2p/host.ts'
import { explainUnreachable } from '../../node/sync/reach.ts'
import { syncChain } from '../../node/sync/version-sync.ts'
import { decodeVersionRecord } from '../../protocol/record.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { initHome, runRok, startDaemon } from './daemons.ts'

/** A peer ID nobody listens for, at a port nothing listens on: the connection is refused. */
const DEAD_PEER = '12D3KooWDWSYiGPMGXjCZ2LoqkfL1643driUYW6sLU75tzHZVe9K'
const DEAD_ADDR = `/ip4/127.0.0.1/tcp/1/p2p/${DEAD_PEER}`

test('when the only peer cannot be reached, the sync says it could not reach it, not that every block is missing', async () => {
  const [dir, cleanup] = await tempDir()
  const a = await openEngine({ home: join(dir, 'a'), create: true })
  const b = await openEngine({ home: join(dir, 'b'), create: true })
  const host = await createRokHost({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], exchange: { store: b.store } })
  try {
    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    for (let i = 0; i < 3; i++) await writeFile(join(src, `f${i}.bin`), seededBytes(i, 100_000))
    await a.snapshot(src, { bucket: 'lab/data' })
    const target = await decodeVersionRecord(await a.store.get((await a.buckets.get('lab/data')).cid))
    await assert.rejects(syncChain(target, a.peerId, {
      store: b.store,
      buckets: b.buckets,
      refs: b.sync.refs,
      fetch: explainUnreachable(host, async (cids, o) => await host.services.exchange.fetchBlocks(cids, o)),
      peers: () => [multiaddr(DEAD_ADDR)]
    }), (err: { code: string, message: string }) => {
      assert.equal(err.code, 'ERR_PEER_UNREACHABLE', err.message)
      assert.match(err.message, new RegExp(`could not reach the peer ${DEAD_PEER} to fetch lab/data`))
      assert.match(err.message, /ECONNREFUSED|refused/i, 'the cause is named')
      assert.doesNotMatch(err.message, /could not be fetched|allowed/)
      return true
    })
    await assert.rejects(b.buckets.get('lab/data'), { code: 'ERR_BUCKET_NOT_FOUND' })
  } finally {
    await host.stop()
    await a.close()
    await b.close()
    await cleanup()
  }
})

test('rok sync with the publisher down says no peer could be reached and to start it, without suggesting rok allow', { timeout: 120_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'b')
  await initHome(home)
  const b = await startDaemon(home)
  try {
    await b.rok('subscribe', 'lab/data', '--peer', DEAD_ADDR)
    const r = await runRok(['sync', 'lab/data', '--home', home, '--json'])
    assert.equal(r.code, 1, r.stderr)
    const { error } = JSON.parse(r.stdout)
    assert.equal(error.code, 'ERR_NO_HEAD', r.stderr)
    assert.match(error.message, /could not reach \/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\//)
    assert.match(error.message, /start the publisher's node \('rok node start' there\)/)
    assert.doesNotMatch(error.message, /rok allow/)
    const status = await b.api.syncStatus()
    assert.equal(status.subscriptions[0].error?.code, 'ERR_NO_HEAD')
  } finally {
    await b.kill()
    await cleanup()
  }
})
