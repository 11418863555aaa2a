/**
 * The publish → subscribe → sync journey across three node daemons (A publishes, B and C
 * subscribe), each a real `rok node start` process on loopback, driven through the CLI.
 * Default size 40 MiB; RUN_LARGE=1 makes v1 128 MiB.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { appendFile, open, readdir, readFile } from 'node:fs/promises'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { spawnPeer, type TestPeer } from '../p2p/fixtures/spawn.ts'
import { editDataset, initHome, runRok, startDaemon, waitFor, writeDataset, type Daemon } from './daemons.ts'

const LARGE = process.env.RUN_LARGE === '1'
const FILE_SIZE = 1024 * 1024
const FILES = LARGE ? 128 : 40
const BUCKET = 'lab/data'
const MiB = 1024 * 1024

describe('sync across three node daemons', { timeout: LARGE ? 900_000 : 400_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let src: string
  const homes = { a: '', b: '', c: '' }
  let a: Daemon
  let b: Daemon
  let c: Daemon
  const running = new Set<Daemon>()
  let outsider: TestPeer | undefined
  /** A node that subscribed to the bucket without being allowed on it. */
  let unallowed: Daemon | undefined

  const start = async (home: string, args: string[] = []): Promise<Daemon> => {
    const d = await startDaemon(home, args)
    running.add(d)
    return d
  }
  const stop = async (d: Daemon, how: 'stop' | 'kill' = 'stop'): Promise<void> => {
    running.delete(d)
    const r = await d[how]()
    if (how === 'stop') assert.equal(r.code, 0, r.stderr)
  }
  const head = async (d: Daemon, bucket = BUCKET): Promise<number> => {
    const s = await d.api.syncStatus()
    return s.subscriptions.find((x: any) => x.bucket === bucket)?.localHead ?? 0
  }
  const restoreMatches = async (d: Daemon, seq: number, name: string): Promise<void> => {
    const out = join(dir, `${name}-v${seq}`)
    await d.rok('restore', `${BUCKET}@${seq}`, out)
    assert.deepEqual(await compareTrees(src, out), [], `${name}'s restore of @${seq} differs from the published folder`)
  }

  before(async () => {
    [dir, cleanup] = await tempDir('rok-sync-')
    src = join(dir, 'src')
    for (const k of ['a', 'b', 'c'] as const) { homes[k] = join(dir, k); await initHome(homes[k]) }
    a = await start(homes.a)
    ;[b, c] = await Promise.all([start(homes.b, ['--bootstrap', a.addr]), start(homes.c, ['--bootstrap', a.addr])])
  })

  after(async () => {
    await outsider?.stop()
    await Promise.all([...running].map(async d => { await d.kill() }))
    await cleanup()
  })

  it('publish needs a running node and says so', async () => {
    const lonely = join(dir, 'lonely')
    await initHome(lonely)
    const r = await runRok(['publish', dir, '--bucket', BUCKET, '--home', lonely])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /needs the node running: start it with 'rok node start/)
  })

  let v1: any
  it('A publishes v1; B and C subscribe and end with byte-identical restores', async () => {
    await writeDataset(src, 1, FILES, FILE_SIZE)
    for (const peer of [b.peerId, c.peerId]) await a.rok('allow', BUCKET, peer)
    // subscribers serve each other too
    await b.rok('allow', BUCKET, c.peerId)
    await c.rok('allow', BUCKET, b.peerId)
    v1 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v1')
    assert.equal(v1.seq, 1)
    assert.equal(v1.provided, true)
    await Promise.all([b.rok('subscribe', BUCKET, '--peer', a.addr), c.rok('subscribe', BUCKET, '--peer', a.addr)])
    const started = performance.now()
    const [rb, rc] = await Promise.all([b.rok('sync', BUCKET), c.rok('sync', BUCKET)])
    const seconds = (performance.now() - started) / 1000
    for (const [name, d] of [['B', b], ['C', c]] as const) {
      assert.equal(await head(d), 1, `${name} has v1`)
      await restoreMatches(d, 1, name)
    }
    // each received the version once, whichever peers it came from
    const got = (r: any, s: any): number => r.versions > 0 ? r.chunkBytes : s.subscriptions[0].last.chunkBytes
    const [sb, sc] = await Promise.all([b.rok('status'), c.rok('status')])
    for (const [name, r, s] of [['B', rb, sb], ['C', rc, sc]] as const) {
      const bytes = got(r, s)
      assert.ok(bytes <= v1.newBytes * 1.01, `${name} received ${bytes} chunk bytes for ${v1.newBytes} new bytes`)
    }
    console.log(`# v1 ${(v1.size / MiB).toFixed(0)} MiB (${v1.newBytes} new bytes) synced to B and C in ${seconds.toFixed(2)} s`)
  })

  it('a peer that is on no allow list gets nothing; allowing it opens the bucket', async () => {
    outsider = await spawnPeer()
    const versions = await a.rok('log', BUCKET)
    const record = versions[0].cid
    const root = versions[0].root
    const refused = await outsider.request('fetch', { cids: [record, root], peers: [a.addr], timeout: 30_000 })
    assert.equal(refused.blocks, 0)
    assert.deepEqual(refused.missing.sort(), [record, root].sort())
    await a.rok('allow', BUCKET, outsider.peerId)
    const served = await outsider.request('fetch', { cids: [record, root], peers: [a.addr], timeout: 30_000 })
    assert.equal(served.blocks, 2, 'the same request succeeds once the peer is allowed')
    const denied = await a.rok('deny', BUCKET, outsider.peerId)
    assert.ok(!denied.peers.includes(outsider.peerId))
    // a node on no list that subscribes is not even told the head
    const dHome = join(dir, 'd')
    await initHome(dHome)
    const d = await start(dHome, ['--bootstrap', a.addr])
    await d.rok('subscribe', BUCKET, '--peer', a.addr)
    const r = await runRok(['sync', BUCKET, '--home', dHome, '--json'])
    assert.equal(r.code, 1)
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_NO_HEAD', r.stderr)
    assert.match(r.stderr, /rok allow lab\/data/)
    const status = await d.rok('status')
    assert.equal(status.subscriptions[0].localHead, 0)
    assert.equal(status.subscriptions[0].error.code, 'ERR_NO_HEAD')
    // D stays up, following the bucket's topic: the next test checks it does not learn of v2
    unallowed = d
    const human = await runRok(['status', '--home', homes.b])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /following lab\/data from 12D3KooW\S+: @1 of @1 \(lag 0\), idle/)
  })

  let v2: any
  it('A publishes v2 with ~1% changed; B and C get it by themselves, receiving about the new chunks only', async () => {
    await editDataset(src, 2, FILES, FILE_SIZE, 4, Math.floor(FILES * FILE_SIZE * 0.01 / 4))
    const published = performance.now()
    v2 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v2')
    assert.equal(v2.seq, 2)
    assert.deepEqual(v2.announcedTo, [b.peerId, c.peerId].sort(), 'announced to the allowed peers only')
    const seconds = await Promise.all([b, c].map(async d => {
      await waitFor('v2 to arrive', async () => await head(d) === 2 ? true : undefined, 60_000)
      return (performance.now() - published) / 1000
    }))
    // the node that is not allowed, though it follows the bucket's topic, was not told of v2
    const outside = (await unallowed!.api.syncStatus()).subscriptions.find(x => x.bucket === BUCKET)!
    assert.equal(outside.remoteHead, 0, 'an unallowed subscriber learnt of a new version')
    await stop(unallowed!)
    for (const [name, d] of [['B', b], ['C', c]] as const) {
      const s = await d.rok('status')
      const last = s.subscriptions[0].last
      assert.equal(last.toSeq, 2)
      assert.ok(last.chunkBytes <= 1.1 * v2.newBytes, `${name} received ${last.chunkBytes} chunk bytes for ${v2.newBytes} new`)
      assert.ok(last.bytes <= 1.1 * v2.newBytes + last.nodeBytes + last.recordBytes)
      assert.ok(last.nodeBytes < MiB, `${name} received ${last.nodeBytes} bytes of manifest`)
      await restoreMatches(d, 2, name)
      console.log(`# ${name}: v2 (${v2.newBytes} new chunk bytes) arrived in ${seconds[name === 'B' ? 0 : 1].toFixed(2)} s; received ${last.bytes} bytes (chunks ${last.chunkBytes}, manifest ${last.nodeBytes}, records ${last.recordBytes}) from ${last.peers.map((p: any) => `${p.why} ${p.bytes}`).join(', ')}`)
    }
  })

  it('B, killed mid-sync and restarted, resumes without fetching again what it stored', async () => {
    await stop(b)
    b = await start(homes.b, ['--bootstrap', a.addr, '--max-download-rate', '4MB'])
    // v3 adds 24 MiB of new data
    await appendFile(join(src, 'big.bin'), seededBytes(3, 24 * MiB))
    const v3 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v3')
    const stored = await waitFor('B to store part of v3', async () => {
      const s = await b.api.syncStatus()
      const p = s.subscriptions[0].progress
      return p !== undefined && p.seq === 3 && p.storedBytes >= 8 * MiB ? p.storedBytes as number : undefined
    }, 60_000)
    await stop(b, 'kill')
    assert.ok(stored < v3.newBytes, 'B was killed before it had everything')
    b = await start(homes.b, ['--bootstrap', a.addr])
    await waitFor('B to finish v3', async () => await head(b) === 3 ? true : undefined, 60_000)
    const last = (await b.rok('status')).subscriptions[0].last
    assert.equal(last.toSeq, 3)
    assert.ok(last.fromSeq === 2, 'the restarted sync picked up at v3')
    assert.ok(last.chunkBytes <= v3.newBytes - stored, `after the restart B fetched ${last.chunkBytes} chunk bytes; ${v3.newBytes} new, ${stored} stored before the kill`)
    assert.ok(last.chunkBytes > 0)
    await restoreMatches(b, 3, 'B')
    console.log(`# B killed after storing ${stored} of ${v3.newBytes} new bytes; after restart fetched ${last.chunkBytes}`)
    await waitFor('C to have v3', async () => await head(c) === 3 ? true : undefined, 60_000)
  })

  it('a chunk that rots on C is named by rok verify --repair, offline, and fetched again by C once its daemon is back', async () => {
    await stop(c)
    // bytes of a file every version has, as they lie in one of C's packs
    const needle = (await readFile(join(src, 'f1.bin'))).subarray(300_000, 300_064)
    const packsDir = join(homes.c, 'packs')
    let hit: { path: string, at: number } | undefined
    for (const name of (await readdir(packsDir)).filter(n => n.endsWith('.pack'))) {
      const at = (await readFile(join(packsDir, name))).indexOf(needle)
      if (at >= 0) { hit = { path: join(packsDir, name), at }; break }
    }
    assert.ok(hit !== undefined, 'the chunk is in one of C\'s packs')
    const fd = await open(hit.path, 'r+')
    await fd.write(Buffer.from([needle[0] ^ 0xff]), 0, 1, hit.at)
    await fd.close()

    const checked = await runRok(['verify', '--repair', '--json', '--home', homes.c])
    assert.equal(checked.code, 1, checked.stderr)
    const report = JSON.parse(checked.stdout)
    assert.deepEqual(report.damaged.map((d: any) => d.problem), ['corrupt'])
    assert.equal(report.repaired.unindexed, 1)
    assert.deepEqual(report.repaired.versions.map((v: any) => v.seq).sort(), [1, 2, 3])
    const restore = await runRok(['restore', `${BUCKET}@3`, join(dir, 'C-broken'), '--home', homes.c])
    assert.equal(restore.code, 1, 'the damaged version does not restore')

    // the daemon starts with marked versions (their manifests are not indexed again at start)
    // and its first sync of the bucket heals them
    c = await start(homes.c, ['--bootstrap', a.addr])
    await waitFor('C to heal', async () => (await c.rok('status')).subscriptions[0].damaged === undefined ? true : undefined, 60_000)
    const again = await c.rok('sync', BUCKET)
    assert.equal(again.unhealed ?? 0, 0)
    assert.equal((await c.rok('verify')).ok, true)
    await restoreMatches(c, 3, 'C-healed')
  })

  it('C completes a version from B after A is stopped', async () => {
    await stop(c)
    await editDataset(src, 4, FILES, FILE_SIZE, 2, 64 * 1024)
    const v4 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v4')
    await waitFor('B to have v4', async () => await head(b) === 4 ? true : undefined, 60_000)
    await stop(a)
    c = await start(homes.c, ['--bootstrap', b.addr])
    await waitFor('C to have v4', async () => await head(c) === 4 ? true : undefined, 60_000)
    const last = (await c.rok('status')).subscriptions[0].last
    assert.equal(last.toSeq, 4)
    const served = last.peers.filter((p: any) => p.bytes > 0)
    assert.deepEqual(served.map((p: any) => p.peer), [b.peerId], `served by ${JSON.stringify(last.peers)}`)
    assert.notEqual(served[0].why, 'publisher')
    assert.ok(last.chunkBytes <= 1.1 * v4.newBytes)
    await restoreMatches(c, 4, 'C')
    const gone = await c.rok('unsubscribe', BUCKET)
    assert.equal(gone.removed, true)
    assert.deepEqual((await c.rok('status')).subscriptions, [])
    assert.equal((await c.rok('log', BUCKET)).length, 4, 'synced versions stay after unsubscribing')
    const r = await runRok(['sync', BUCKET, '--home', homes.c, '--json'])
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_NOT_SUBSCRIBED')
    console.log(`# C got v4 (${v4.newBytes} new bytes) from B (${served[0].why}) with A stopped: ${last.bytes} bytes in ${last.seconds.toFixed(2)} s`)
  })
})
