/**
 * gc takes no lock: two real node daemons publish, sync, snapshot, forget and collect
 * garbage all at once for a while; afterwards every retained version on both restores
 * byte-exactly and both stores verify. Old contents come back in later versions, so
 * candidates are regularly rescued by a snapshot or a sync storing them again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'
import { initHome, startDaemon, waitFor, type Daemon } from '../sync/daemons.ts'

const RUN_MS = Number(process.env.GC_CONCURRENT_MS ?? 45_000)
const FILES = 8
const FILE_SIZE = 192 * 1024
/** Contents cycle through this many seeds, so what one version drops a later one brings back. */
const RING = 20
const MIN_ROUNDS = 3

type Layout = Record<string, number>

async function writeLayout (dir: string, layout: Layout): Promise<void> {
  await mkdir(dir, { recursive: true })
  for (const [name, seed] of Object.entries(layout)) await writeFile(join(dir, name), seededBytes(seed, FILE_SIZE))
}

async function matchesLayout (dir: string, layout: Layout): Promise<string | undefined> {
  const names = (await readdir(dir)).sort()
  if (names.join() !== Object.keys(layout).sort().join()) return `files ${names.join()} ≠ ${Object.keys(layout).sort().join()}`
  for (const [name, seed] of Object.entries(layout)) {
    if (!Buffer.from(await readFile(join(dir, name))).equals(Buffer.from(seededBytes(seed, FILE_SIZE)))) return `${name} differs`
  }
  return undefined
}

test('snapshots, syncs and gc run together on two daemons; every retained version restores byte-exactly', { timeout: 600_000 }, async () => {
  const [dir, cleanup] = await tempDir('rok-gc-conc-')
  const daemons: Daemon[] = []
  try {
    const [homeA, homeB] = [join(dir, 'a'), join(dir, 'b')]
    await initHome(homeA)
    await initHome(homeB)
    const a = await startDaemon(homeA)
    daemons.push(a)
    const b = await startDaemon(homeB, ['--bootstrap', a.addr])
    daemons.push(b)
    await a.rok('allow', 'conc/data', b.peerId)

    const layouts = new Map<string, Layout>() // 'bucket@seq' → contents
    const errors: string[] = []
    const until = Date.now() + RUN_MS
    const counts = { published: 0, snapshots: 0, gcA: 0, gcB: 0, swept: 0, rescued: 0 }
    // run for RUN_MS, and on a slow machine until every loop has gone round a few times
    const going = (n: number): boolean => Date.now() < until || n < MIN_ROUNDS
    const layoutFor = (k: number, shift: number): Layout => {
      const l: Layout = {}
      for (let f = 0; f < FILES; f++) l[`f${f}.bin`] = 1000 * shift + ((k + f * 3) % RING)
      return l
    }

    const pubDir = join(dir, 'pub')
    let k = 0
    await writeLayout(pubDir, layoutFor(k, 1))
    const first = await a.rok('publish', pubDir, '--bucket', 'conc/data', '-m', 'k0')
    layouts.set(`conc/data@${first.seq}`, layoutFor(0, 1))
    await b.rok('subscribe', 'conc/data', '--peer', a.addr)
    await waitFor('B to sync the first version', async () => (await b.api.versions('conc/data').catch(() => [])).length > 0 ? true : undefined)

    const publisher = async (): Promise<void> => {
      while (going(counts.published)) {
        k++
        const layout = layoutFor(k, 1)
        await writeLayout(pubDir, layout)
        const out = await a.rok('publish', pubDir, '--bucket', 'conc/data', '-m', `k${k}`)
        layouts.set(`conc/data@${out.seq}`, layout)
        counts.published++
      }
    }
    const snapshotter = async (): Promise<void> => {
      const localDir = join(dir, 'local')
      let j = 0
      while (going(counts.snapshots)) {
        const layout = layoutFor(j++, 2)
        await writeLayout(localDir, layout)
        const out = await a.rok('snapshot', localDir, '--bucket', 'conc/local')
        layouts.set(`conc/local@${out.seq}`, layout)
        counts.snapshots++
      }
    }
    const headOf = async (d: Daemon): Promise<number> => (await d.api.versions('conc/data'))[0].seq
    const collector = async (d: Daemon, which: 'gcA' | 'gcB'): Promise<void> => {
      while (going(counts[which])) {
        try {
          if (d === a) {
            // the publisher forgets only what the subscriber already has (a lagging subscriber
            // needs the intermediate versions to sync its chain)
            const behind = (await headOf(a)) - (await headOf(b))
            await d.rok('forget', 'conc/data', '--keep-last', String(Math.max(1, behind + 1)))
            if ((await d.api.versions('conc/local').catch(() => [])).length > 0) await d.rok('forget', 'conc/local', '--keep-last', '2')
          } else {
            await d.rok('forget', 'conc/data', '--keep-last', '1')
          }
          const r = await d.rok('gc', '--grace', '1s')
          counts[which]++
          counts.swept += r.sweptBlocks
          counts.rescued += r.rescuedBlocks
        } catch (err) {
          errors.push(`${which}: ${(err as Error).message}`)
        }
      }
    }
    await Promise.all([publisher(), snapshotter(), collector(a, 'gcA'), collector(b, 'gcB')])
    assert.deepEqual(errors, [])
    assert.ok(counts.published >= MIN_ROUNDS && counts.gcA >= MIN_ROUNDS && counts.gcB >= MIN_ROUNDS, JSON.stringify(counts))
    assert.ok(counts.swept > 0, `gc deleted something while the others ran: ${JSON.stringify(counts)}`)

    // B catches up with A's head, then both verify and every retained version restores
    const headA = await headOf(a)
    await waitFor('B to sync the last version', async () => (await headOf(b)) === headA ? true : undefined, 120_000)
    for (const [d, name] of [[a, 'a'], [b, 'b']] as const) {
      const verify = await d.rok('verify')
      assert.equal(verify.ok, true, `${name} verifies: ${JSON.stringify(verify.damaged)}`)
      for (const bucket of d === a ? ['conc/data', 'conc/local'] : ['conc/data']) {
        const versions = await d.api.versions(bucket)
        assert.ok(versions.length >= 1)
        for (const v of versions) {
          const out = join(dir, 'restores', name, `${bucket.replace('/', '-')}-${v.seq}`)
          await d.rok('restore', `${bucket}@${v.seq}`, out)
          assert.equal(await matchesLayout(out, layouts.get(`${bucket}@${v.seq}`)!), undefined, `${name}: ${bucket}@${v.seq}`)
        }
      }
    }
    process.stderr.write(`gc concurrency: ${JSON.stringify(counts)}\n`)
  } finally {
    for (const d of daemons) await d.stop().catch(() => {})
    await cleanup()
  }
})
