/**
 * The four journeys across three "clouds": network namespaces joined through a router,
 * each link 100 Mbit/s each way with 0.1 % packet loss entering each cloud and 10 ms of
 * one-way delay (a delaying proxy on the router, since this kernel has no netem).
 *
 *   cloud 1: the registry and Alice's node A (publisher)
 *   cloud 2: Bob's node B (member of the private group)
 *   cloud 3: Carol's node C (member) and Eve's node E (outsider)
 *
 * A publishes a private bucket; Bob finds it, Eve does not; B and C subscribe through the
 * registry (ACL check, signed grants) and sync across the WAN; C restores v1 byte for
 * byte; A publishes v2 with a small change, B and C receive about the changed chunks
 * only, B restores v2; the same v2 update goes through rsync's delta transfer (rsync
 * daemon in cloud 1, client in cloud 2) over the same link, and both are printed.
 *
 * Needs root for the namespaces (CI runs as root); skipped with the reason otherwise.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { tempDir } from '../fixtures/seeded.ts'
import { createWan, netnsUnavailable, type Wan } from '../fixtures/netns.ts'
import { editDataset, writeDataset } from '../sync/daemons.ts'
import { rokJsonIn, startNodeIn, startRegistryIn, synced, waitFor, type NsNode, type NsRegistry } from './cluster.ts'

const BUCKET = 'lab/data'
const FILES = 24
const FILE_SIZE = 1024 * 1024
const NODE_PORT = 4001
const REGISTRY_PORT = 7447
const RSYNC_PORT = 8873
const MiB = 1024 * 1024

const skip = await netnsUnavailable()

describe('the four journeys across three clouds', { skip: skip ?? false, timeout: 600_000 }, () => {
  let wan: Wan
  let dir: string
  let cleanup: () => Promise<void>
  let src: string
  let registry: NsRegistry
  const home = { reg: '', admin: '', a: '', b: '', c: '', e: '' }
  let a: NsNode
  let b: NsNode
  let c: NsNode
  let e: NsNode
  const rokAs = (h: string, cloud: number) => async <T = any>(...args: string[]): Promise<T> => await rokJsonIn<T>(wan, wan.clouds[cloud - 1], [...args, '--home', h])

  before(async () => {
    [dir, cleanup] = await tempDir('rok-multicloud-')
    src = join(dir, 'src')
    for (const k of Object.keys(home) as Array<keyof typeof home>) home[k] = join(dir, k)
    wan = await createWan({ clouds: 3, rateMbit: 100, lossPercent: 0.1, delayMs: 10 })
    const [c1, c2, c3] = wan.clouds
    registry = await startRegistryIn(wan, c1, home.reg, REGISTRY_PORT)
    await rokAs(home.admin, 1)('login', registry.url, '--token', registry.adminToken)
    const users = [['alice', home.a, 1], ['bob', home.b, 2], ['carol', home.c, 3], ['eve', home.e, 3]] as const
    for (const [user, h, cloud] of users) {
      await rokAs(h, cloud)('init')
      const { token } = await rokAs(home.admin, 1)('user', 'create', user)
      // each user logs in from their own cloud, across the WAN
      await rokAs(h, cloud)('login', registry.url, '--token', token)
    }
    await rokAs(home.a, 1)('group', 'create', 'lab', '--description', 'the lab (private)')
    await rokAs(home.a, 1)('bucket', 'create', BUCKET, '--description', 'training images', '--tag', 'images')
    await rokAs(home.a, 1)('group', 'add', 'lab', 'bob', '--role', 'reader')
    await rokAs(home.a, 1)('group', 'add', 'lab', 'carol', '--role', 'reader')
    a = await startNodeIn(wan, c1, home.a, NODE_PORT, ['--poll-interval', '5'])
    ;[b, c, e] = await Promise.all([
      startNodeIn(wan, c2, home.b, NODE_PORT, ['--poll-interval', '5', '--bootstrap', a.addr]),
      startNodeIn(wan, c3, home.c, NODE_PORT, ['--poll-interval', '5', '--bootstrap', a.addr]),
      startNodeIn(wan, c3, home.e, NODE_PORT + 1, ['--poll-interval', '5', '--bootstrap', a.addr])
    ])
    for (const n of [a, b, c, e]) await waitFor(`${n.home} registered`, async () => (await n.status()).registry?.registered === true ? true : undefined)
  })

  after(async () => {
    await wan?.destroy()
    await cleanup?.()
  })

  it('publish: A in cloud 1 publishes the private bucket and the registry records it', async () => {
    await writeDataset(src, 1, FILES, FILE_SIZE)
    const published = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v1')
    assert.equal(published.seq, 1)
    assert.deepEqual(published.registry, { state: 'recorded', pending: 0 })
  })

  it('search: the member in cloud 2 finds the bucket, the outsider in cloud 3 does not', async () => {
    const found = await rokAs(home.b, 2)('search', 'training')
    assert.deepEqual(found.results.map((r: any) => r.bucket ?? `${r.group}/${r.name}`), [BUCKET])
    const hidden = await rokAs(home.e, 3)('search', 'training')
    assert.deepEqual(hidden.results, [])
    const refused = await e.run('subscribe', BUCKET, '--json')
    assert.equal(refused.code, 1)
    assert.equal(JSON.parse(refused.stdout).error.code, 'ERR_NOT_FOUND', 'a private bucket looks like it does not exist')
  })

  it('subscribe: B (cloud 2) and C (cloud 3) subscribe through the registry and sync v1 across the WAN', async () => {
    const started = performance.now()
    const [sb, sc] = await Promise.all([b.rok('subscribe', BUCKET), c.rok('subscribe', BUCKET)])
    assert.equal(sb.publisher, a.peerId, 'the registry named the publisher')
    assert.equal(sc.publisher, a.peerId)
    const reports = await Promise.all([b, c].map(async n => await synced(n, BUCKET, 1)))
    const seconds = (performance.now() - started) / 1000
    for (const r of reports) assert.ok(r.chunkBytes >= FILES * FILE_SIZE * 0.5, `a first sync moves the chunks: ${JSON.stringify(r)}`)
    const grants = (await b.rok('status')).registry.grants
    assert.equal(grants[0]?.bucket, BUCKET, 'B holds a registry grant')
    console.log(`multicloud v1: ${(FILES * FILE_SIZE / MiB).toFixed(0)} MiB to 2 subscribers in other clouds in ${seconds.toFixed(1)} s; ` +
      reports.map((r, i) => `${i === 0 ? 'B' : 'C'} ${(r.bytes / MiB).toFixed(1)} MiB in ${r.seconds.toFixed(1)} s from ${r.peers.map((p: any) => `${p.why} ${(p.bytes / MiB).toFixed(1)} MiB`).join(', ')}`).join('; '))
  })

  it('restore: C restores v1 byte for byte', async () => {
    const out = join(dir, 'c-v1')
    await c.rok('restore', `${BUCKET}@1`, out)
    assert.deepEqual(await compareTrees(src, out), [])
  })

  it('v2 with a small change reaches B with about the changed chunks; rsync moves the same update over the same link', async () => {
    // rsync's copy of v1 in cloud 2, through an rsync daemon in cloud 1
    const [c1, c2] = wan.clouds
    const conf = join(dir, 'rsyncd.conf')
    await writeFile(conf, `use chroot = no\nuid = root\ngid = root\n[data]\n  path = ${src}\n  read only = yes\n`)
    wan.spawn(c1, 'rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--address=${c1.ip}`, `--port=${RSYNC_PORT}`, '--log-file=/dev/null'])
    await wan.expose(c1, RSYNC_PORT)
    const rsyncTo = join(dir, 'rsync-b')
    const rsync = async (): Promise<{ seconds: number, bytes: number }> => {
      const started = performance.now()
      const r = await wan.run(c2, 'rsync', ['-a', '--stats', `rsync://${c1.ip}:${RSYNC_PORT}/data/`, `${rsyncTo}/`])
      const seconds = (performance.now() - started) / 1000
      assert.equal(r.code, 0, r.stderr)
      const count = (what: string): number => Number((new RegExp(`Total bytes ${what}: ([\\d,]+)`).exec(r.stdout)?.[1] ?? 'NaN').replaceAll(',', ''))
      return { seconds, bytes: count('sent') + count('received') }
    }
    await waitFor('the rsync daemon', async () => (await wan.run(c2, 'rsync', [`rsync://${c1.ip}:${RSYNC_PORT}/`])).code === 0 ? true : undefined, 30_000)
    const rsyncV1 = await rsync()

    await editDataset(src, 2, FILES, FILE_SIZE, 4, 4096)
    const published = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v2')
    assert.equal(published.seq, 2)
    const [report] = await Promise.all([synced(b, BUCKET, 2), synced(c, BUCKET, 2)])
    const rsyncV2 = await rsync()
    assert.deepEqual(await compareTrees(src, rsyncTo, { rootMeta: false }), [], 'rsync copied v2')

    const out = join(dir, 'b-v2')
    await b.rok('restore', `${BUCKET}@2`, out)
    assert.deepEqual(await compareTrees(src, out), [])
    // 4 edits of 4 KiB: a few 16 KiB-average chunks each, plus the manifest nodes above them
    assert.ok(report.bytes < 2 * MiB, `v2 moved ${report.bytes} bytes`)
    console.log(`multicloud v2 (4 × 4 KiB edits in ${FILES} MiB): rok ${(report.bytes / 1024).toFixed(0)} KiB received (${(report.chunkBytes / 1024).toFixed(0)} KiB chunks, ${(report.nodeBytes / 1024).toFixed(0)} KiB manifest) in ${report.seconds.toFixed(2)} s; ` +
      `rsync daemon ${(rsyncV2.bytes / 1024).toFixed(0)} KiB on the wire in ${rsyncV2.seconds.toFixed(2)} s (v1 full copy: ${(rsyncV1.bytes / MiB).toFixed(1)} MiB in ${rsyncV1.seconds.toFixed(1)} s)`)
  })
})
