/**
 * The registry and the nodes together, as real processes on loopback driven through the
 * CLI: a registry and three node daemons. Alice's node (A) publishes a private group's
 * bucket; Bob (a member, node B) finds it and subscribes without an address — the
 * registry checks the ACL and grants, B presents the grant to A and syncs peer to peer.
 * Eve (an outsider, node C) cannot find it, cannot subscribe, and cannot fetch its blocks
 * from A or B even knowing the CIDs and addresses. The registry is killed: the next
 * version still reaches B, the publish queues its reference, new subscriptions wait with
 * a clear message; restarted, the registry receives the queued reference in order. Last,
 * Bob leaves the group: his renewal is refused and A stops serving him when his grant
 * expires (grant lifetime 60 s here).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { tempDir } from '../fixtures/seeded.ts'
import { collect, rokJson, runRok, spawnRok } from '../fixtures/cli.ts'
import { spawnPeer, type TestPeer } from '../p2p/fixtures/spawn.ts'
import { editDataset, initHome, startDaemon, waitFor, writeDataset, type Daemon } from '../sync/daemons.ts'

const BUCKET = 'lab/data'
const FILES = 8
const FILE_SIZE = 512 * 1024

interface RegistryProcess { url: string, adminToken: string | undefined, child: ChildProcess, exited: ReturnType<typeof collect> }

/** `rok registry start` on `listen`; resolves once it listens (with the first admin token, if printed). */
async function startRegistry (home: string, listen: string): Promise<RegistryProcess> {
  const child = spawnRok(['registry', 'start', '--listen', listen, '--home', home, '--log-level', 'warn', '--rate-limit', '0', '--grant-ttl', '60'])
  const exited = collect(child)
  let out = ''
  const ready = await new Promise<{ url: string, adminToken: string | undefined }>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`registry did not start: ${out}`)) }, 60_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const url = /registry listening on (\S+)/.exec(out)?.[1]
      if (url === undefined) return
      const token = /admin token \(shown once, keep it safe\): (\S+)/.exec(out)?.[1]
      // the token line follows the URL line in the same write, or not at all on a restart
      clearTimeout(timer)
      setTimeout(() => { resolve({ url, adminToken: token ?? /admin token \(shown once, keep it safe\): (\S+)/.exec(out)?.[1] }) }, 100)
    })
    void exited.then(r => { reject(new Error(`registry exited ${r.code}: ${r.stderr}`)) })
  })
  return { ...ready, child, exited }
}

/** A TCP port free on loopback right now (A restarts on the same one, so B still reaches it). */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('registry and three node daemons', { timeout: 600_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let src: string
  let registry: RegistryProcess | undefined
  let listen: string
  const home = { reg: '', a: '', b: '', c: '' }
  let a: Daemon
  let b: Daemon
  let c: Daemon
  const running = new Set<Daemon>()
  let outsider: TestPeer | undefined
  let aArgs: string[]

  const as = (h: string) => async <T = any>(...args: string[]): Promise<T> => await rokJson<T>([...args, '--home', h])
  const localHead = async (d: Daemon): Promise<number> => (await d.api.syncStatus()).subscriptions.find(s => s.bucket === BUCKET)?.localHead ?? 0
  const killRegistry = async (): Promise<void> => {
    const r = registry
    registry = undefined
    if (r === undefined) return
    r.child.kill('SIGKILL')
    await r.exited
  }

  before(async () => {
    [dir, cleanup] = await tempDir('rok-registry-node-')
    src = join(dir, 'src')
    for (const k of ['reg', 'a', 'b', 'c'] as const) home[k] = join(dir, k)
    registry = await startRegistry(home.reg, '127.0.0.1:0')
    listen = new URL(registry.url).host
    assert.ok(registry.adminToken !== undefined, 'the first start prints the admin token')
    const admin = join(dir, 'admin')
    await rokJson(['login', registry.url, '--token', registry.adminToken, '--home', admin])
    for (const [user, h] of [['alice', home.a], ['bob', home.b], ['eve', home.c]] as const) {
      await initHome(h)
      const { token } = await rokJson(['user', 'create', user, '--home', admin])
      await as(h)('login', registry.url, '--token', token)
    }
    await as(home.a)('group', 'create', 'lab', '--description', 'the lab (private)')
    await as(home.a)('bucket', 'create', BUCKET, '--description', 'training data', '--tag', 'images')
    await as(home.a)('group', 'add', 'lab', 'bob', '--role', 'reader')
    const args = ['--registry-retry-max', '2', '--poll-interval', '5']
    aArgs = [...args, '--listen', `/ip4/127.0.0.1/tcp/${await freePort()}`]
    a = await startDaemon(home.a, aArgs)
    running.add(a)
    ;[b, c] = await Promise.all([startDaemon(home.b, [...args, '--bootstrap', a.addr]), startDaemon(home.c, [...args, '--bootstrap', a.addr])])
    running.add(b)
    running.add(c)
    for (const d of [a, b, c]) {
      await waitFor('registration', async () => (await d.api.syncStatus()).registry?.registered === true ? true : undefined)
    }
  })

  after(async () => {
    await outsider?.stop()
    await Promise.all([...running].map(async d => { await d.kill() }))
    await killRegistry()
    await cleanup()
  })

  let v1: any
  it('A publishes and the registry records the reference; the member finds the private bucket and syncs it through a grant', async () => {
    await writeDataset(src, 1, FILES, FILE_SIZE)
    const published = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v1')
    assert.deepEqual(published.registry, { state: 'recorded', pending: 0 })
    assert.deepEqual(published.allowed, [], 'nobody is on an allow list: grants alone open the bucket')
    const shown = await as(home.b)('bucket', 'show', BUCKET)
    assert.equal(shown.latestSeq, 1)

    const found = await as(home.b)('search', 'data')
    assert.deepEqual(found.results.map((r: any) => r.bucket ?? `${r.group}/${r.name}`), [BUCKET])

    const sub = await b.rok('subscribe', BUCKET)
    assert.equal(sub.publisher, a.peerId, 'the registry named the publisher')
    await waitFor('B at @1', async () => await localHead(b) === 1 ? true : undefined, 120_000)
    const status = await b.api.syncStatus()
    assert.equal(status.registry?.grants[0]?.bucket, BUCKET)
    assert.deepEqual(status.registry?.grants[0]?.rights, ['read'])
    v1 = (await b.rok('log', BUCKET))[0]
    const out = join(dir, 'b-v1')
    await b.rok('restore', `${BUCKET}@1`, out)
    assert.deepEqual(await compareTrees(src, out), [])
    const human = await runRok(['status', '--home', home.b])
    assert.match(human.stdout, /registry http:\/\/127\.0\.0\.1:\d+: registered, key pinned/)
    assert.match(human.stdout, /grant lab\/data \(read\) until /)
  })

  it('the outsider cannot find the bucket, cannot subscribe, and gets none of its blocks from either node', async () => {
    const found = await as(home.c)('search', 'data')
    assert.deepEqual(found.results, [])
    const refused = await runRok(['subscribe', BUCKET, '--home', home.c, '--json'])
    assert.equal(refused.code, 1)
    assert.equal(JSON.parse(refused.stdout).error.code, 'ERR_NOT_FOUND', 'a private bucket looks like it does not exist')
    assert.deepEqual((await c.api.syncStatus()).subscriptions, [])
    assert.equal((await c.api.syncStatus()).registry?.grants.length, 0, 'the registry issued no grant')

    // knowing the addresses, Eve's node follows the publisher directly: it is not even told the head
    await c.rok('subscribe', BUCKET, '--peer', a.addr)
    const sync = await runRok(['sync', BUCKET, '--home', home.c, '--json'])
    assert.equal(sync.code, 1)
    assert.equal(JSON.parse(sync.stdout).error.code, 'ERR_NO_HEAD', sync.stderr)
    await c.rok('unsubscribe', BUCKET)

    // knowing the CIDs, a peer asks both nodes for the record and the manifest root: refused (like a miss)
    outsider = await spawnPeer()
    const cids = [v1.cid, v1.root]
    const r = await outsider.request('fetch', { cids, peers: [a.addr, b.addr], timeout: 30_000 })
    assert.equal(r.blocks, 0)
    assert.deepEqual(r.missing.sort(), [...cids].sort())
    const served = await a.api.syncStatus()
    assert.ok(served.served.refused > 0, 'A counted refused wants')
  })

  it('with the registry killed (and A restarted meanwhile), the next version still reaches the subscriber; the reference queues; new subscriptions wait', async () => {
    await killRegistry()
    // A restarts while the registry is down: it checks B's grant with the key pinned in its home
    running.delete(a)
    assert.equal((await a.stop()).code, 0)
    a = await startDaemon(home.a, aArgs)
    running.add(a)
    const restarted = await waitFor('a failed registration', async () => {
      const s = await a.api.syncStatus()
      return s.registry?.error !== undefined ? s.registry : undefined
    })
    assert.equal(restarted.registered, false)
    assert.equal(restarted.keyPinned, true)
    assert.equal(restarted.error?.code, 'ERR_REGISTRY_UNAVAILABLE')
    await editDataset(src, 2, FILES, FILE_SIZE, 2, 4096)
    const published = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v2')
    assert.equal(published.registry.state, 'queued')
    assert.equal(published.registry.pending, 1)
    assert.equal(published.registry.error.code, 'ERR_REGISTRY_UNAVAILABLE')
    await waitFor('B at @2 without the registry', async () => await localHead(b) === 2 ? true : undefined, 120_000)
    const out = join(dir, 'b-v2')
    await b.rok('restore', `${BUCKET}@2`, out)
    assert.deepEqual(await compareTrees(src, out), [], 'restoring goes on while the registry is down')

    const status = await a.api.syncStatus()
    assert.equal(status.registry?.outbox.pending, 1)
    assert.deepEqual(status.registry?.outbox.oldest && { bucket: status.registry.outbox.oldest.bucket, seq: status.registry.outbox.oldest.seq }, { bucket: BUCKET, seq: 2 })
    const human = await runRok(['status', '--home', home.a])
    assert.match(human.stdout, /1 version reference queued for the registry, oldest lab\/data@2; last error ERR_REGISTRY_UNAVAILABLE/)
    assert.match(human.stdout, /publishing lab\/data @2; allowed: nobody \(and peers presenting a registry grant\)/)

    const waiting = await runRok(['subscribe', BUCKET, '--home', home.c, '--json'])
    assert.equal(waiting.code, 1)
    assert.equal(JSON.parse(waiting.stdout).error.code, 'ERR_REGISTRY_UNAVAILABLE')
    assert.match(waiting.stderr, /new subscriptions wait for the registry/)
    const acl = await runRok(['group', 'add', 'lab', 'eve', '--role', 'reader', '--home', home.a])
    assert.equal(acl.code, 1)
    assert.match(acl.stderr, /ACL, group and bucket changes wait for it .*\[ERR_REGISTRY_UNAVAILABLE\]/)
  })

  it('the queued reference reaches the registry when it returns', async () => {
    registry = await startRegistry(home.reg, listen)
    await waitFor('the outbox to drain', async () => (await a.api.syncStatus()).registry?.outbox.pending === 0 ? true : undefined, 120_000)
    const shown = await as(home.b)('bucket', 'show', BUCKET)
    assert.equal(shown.latestSeq, 2)
    // and the subscriber told the registry it holds the bucket too
    const providers = await waitFor('B listed as a provider', async () => {
      const res = await fetch(`${registry!.url}/v1/buckets/lab/data/providers`, { headers: { authorization: `Bearer ${(await import('node:fs/promises').then(async fs => JSON.parse(await fs.readFile(join(home.b, 'registry.json'), 'utf8')))).token}` } })
      const body = await res.json() as { providers: Array<{ peer: string, seq: number }> }
      return body.providers.some(p => p.peer === b.peerId) ? body.providers : undefined
    }, 60_000)
    assert.ok(providers.some(p => p.peer === a.peerId && p.seq === 2))
  })

  it('once Eve is added to the group, her node subscribes through the registry and fetches from the publisher and the fellow subscriber by grant', async () => {
    await as(home.a)('group', 'add', 'lab', 'eve', '--role', 'reader')
    const sub = await c.rok('subscribe', BUCKET)
    assert.equal(sub.publisher, a.peerId)
    // the subscription syncs in the background; its last report says who served what
    const report = await waitFor('C at @2', async () => {
      const s = (await c.api.syncStatus()).subscriptions.find(x => x.bucket === BUCKET)
      return s?.localHead === 2 ? s.last : undefined
    }, 120_000)
    assert.equal(report.toSeq, 2)
    const fromB = report.peers.find((p: any) => p.peer === b.peerId)
    assert.ok(fromB !== undefined && fromB.blocks > 0 && fromB.dropped === undefined, `B served C by C's grant: ${JSON.stringify(report.peers)}`)
    const out = join(dir, 'c-v2')
    await c.rok('restore', `${BUCKET}@2`, out)
    assert.deepEqual(await compareTrees(src, out), [])
  })

  it('the subscriber renews its grant; once Bob leaves the group, renewal is refused and A stops serving him within one grant lifetime', async () => {
    const first = (await b.api.syncStatus()).registry!.grants[0].expires
    // grant-ttl 60 s: renewed at half its lifetime
    await waitFor('a renewed grant', async () => (await b.api.syncStatus()).registry!.grants[0].expires > first ? true : undefined, 90_000)
    await as(home.a)('group', 'remove', 'lab', 'bob')
    const renewal = await waitFor('a refused renewal', async () => (await b.api.syncStatus()).registry!.grants[0].error, 90_000)
    assert.equal(renewal.code, 'ERR_NOT_FOUND')
    const expires = Date.parse((await b.api.syncStatus()).registry!.grants[0].expires)
    await new Promise(resolve => setTimeout(resolve, Math.max(0, expires - Date.now()) + 1000))
    await editDataset(src, 3, FILES, FILE_SIZE, 2, 4096)
    const v3 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v3')
    assert.equal(v3.registry.state, 'recorded')
    const sync = await runRok(['sync', BUCKET, '--home', home.b, '--json'])
    assert.equal(sync.code, 1, 'B may no longer fetch lab/data')
    assert.equal(JSON.parse(sync.stdout).error.code, 'ERR_NO_HEAD', sync.stderr)
    assert.equal(await localHead(b), 2)
  })
})
