/**
 * The main job on embedded defaults: the four user journeys, end to end, with real
 * processes — a registry, three node daemons ("clusters" A, B, C, each its own process
 * and home) and an S3-compatible object store (s3rver) that A keeps its versions in,
 * driven through the `rok` CLI on a generated sample dataset — narrated with the figures
 * that matter (bytes, speed, dedup ratio, time).
 *
 *   npm run demo                  # everything in a temporary folder, removed at the end
 *   npm run demo -- --keep        # keep the folder and print how to explore it with the CLI
 *   npm run demo -- --image-mib 16  # a smaller disk image (default 128 MiB)
 *   npm run demo -- --quick       # a ~15 MiB dataset, for tests and slow machines
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { formatBytes } from './cli/output.ts'
import { DEFAULT_SHAPE, QUICK_SHAPE, changeDataset, extendDataset, writeDataset, writePublicSample } from './demo/dataset.ts'
import { differences, fingerprintTree } from './demo/fingerprint.ts'
import { createRunner, waitFor, type NodeHandle } from './demo/processes.ts'
import { startS3Server } from '../test/fixtures/s3-server.ts'
import type { SyncReport } from '../protocol/node-api.ts'

const { values } = parseArgs({ options: { keep: { type: 'boolean' }, 'image-mib': { type: 'string' }, quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } })
if (values.help === true) {
  process.stdout.write('Usage: npm run demo [-- --keep] [-- --image-mib N] [-- --quick]\n\n  --keep          keep the demo folder (homes, registry, dataset) and print how to explore it\n  --image-mib N   size of the dataset\'s disk image in MiB, a multiple of 8 (default 128)\n  --quick         a ~15 MiB dataset (for tests and slow machines)\n')
  process.exit(0)
}
const imageMib = Number(values['image-mib'] ?? (values.quick === true ? 8 : DEFAULT_SHAPE.imageMib))
if (!Number.isInteger(imageMib) || imageMib < 8 || imageMib % 8 !== 0 || imageMib > 8192) {
  process.stderr.write(`demo: --image-mib ${values['image-mib']} is not a multiple of 8 between 8 and 8192\n`)
  process.exit(2)
}
const keep = values.keep === true

const BUCKET = 'acme/sample'
const PUBLIC_BUCKET = 'open/label-schema'
const workDir = await mkdtemp(join(tmpdir(), 'rok-demo-'))
const home = { registry: join(workDir, 'registry'), admin: join(workDir, 'admin'), a: join(workDir, 'cluster-a'), b: join(workDir, 'cluster-b'), c: join(workDir, 'cluster-c'), eve: join(workDir, 'eve') }
const data = join(workDir, 'dataset')
const say = (text = ''): void => { process.stdout.write(text + '\n') }
// The object store for cluster A's tier: a real S3-compatible server (s3rver) on loopback.
const s3 = await startS3Server({ buckets: ['rok-demo'], directory: join(workDir, 'object-store') })
const run = createRunner({ print: say, workDir, env: s3.env })
const started = performance.now()
const seconds = (since: number): number => (performance.now() - since) / 1000
const mbps = (bytes: number, secs: number): string => `${(bytes / 1e6 / Math.max(secs, 0.001)).toFixed(0)} MB/s`
const short = (peer: string): string => `${peer.slice(0, 12)}…${peer.slice(-4)}`
const summary: Array<[string, string]> = []

let interrupted = false
process.once('SIGINT', () => {
  interrupted = true
  say('\ninterrupted: stopping the registry and the nodes')
  void run.stopAll().finally(async () => {
    if (!keep) await rm(workDir, { recursive: true, force: true })
    process.exit(130)
  })
})

/** Wait until `node` holds `seq` of the bucket; its last sync report says what came from whom. */
async function caughtUp (node: NodeHandle, seq: number): Promise<SyncReport> {
  return await waitFor(`${short(node.peerId)} to hold ${BUCKET}@${seq}`, async () => {
    const s = (await node.api.syncStatus()).subscriptions.find(x => x.bucket === BUCKET)
    // the report of the sync that brought `seq` is set just after the head moves
    return s !== undefined && s.localHead >= seq && (s.last?.toSeq ?? 0) >= seq ? s.last : undefined
  })
}

function describeReport (name: string, r: SyncReport | undefined, names: Map<string, string>): void {
  if (r === undefined) return
  const speed = r.bytes >= 8 * 1024 * 1024 ? `, ${mbps(r.bytes, r.seconds)}` : ''
  say(`   ${name} received ${formatBytes(r.bytes)} (${r.chunks} chunks) in ${r.seconds.toFixed(1)} s${speed}:`)
  for (const p of r.peers.filter(p => p.bytes > 0)) say(`     ${formatBytes(p.bytes).padStart(10)} from ${names.get(p.peer) ?? short(p.peer)} (${p.why})`)
}

try {
  say('Rok demo: a registry and three clusters (A, B, C), each a real process with its own home.')
  say(`Working folder: ${workDir} (shown as $DEMO)\n`)

  say('1. Start the registry; the admin creates users, a private group and a public group')
  // hex: a base64url token may start with '-', which a command line would read as an option
  const adminToken = randomBytes(24).toString('hex')
  const registry = await run.startRegistry(home.registry, ['--listen', '127.0.0.1:0', '--data', home.registry, '--admin-token', adminToken, '--log-level', 'warn'])
  await run.rok('admin', home.admin, ['login', registry.url, '--token', adminToken])
  // Independent steps run side by side (each is its own process): the echoed commands
  // may interleave, but every one of them is what a user would type.
  const users = ['alice', 'bob', 'carol', 'eve'] as const
  const tokens: Record<string, string> = {}
  await Promise.all(users.map(async u => { tokens[u] = (await run.rok('admin', home.admin, ['user', 'create', u])).token }))
  const clusters = [['A', home.a, 'alice'], ['B', home.b, 'bob'], ['C', home.c, 'carol']] as const
  await Promise.all(clusters.map(async ([who, h, user]) => {
    await run.rok(who, h, ['init'])
    await run.rok(who, h, ['login', registry.url, '--token', tokens[user]])
  }))
  let tier: { bucket: string, prefix: string } | undefined
  await Promise.all([
    (async () => {
      await run.rok('A', home.a, ['group', 'create', 'acme', '--description', 'the ACME vision team (private)'])
      await Promise.all([
        run.rok('A', home.a, ['group', 'add', 'acme', 'bob', '--role', 'reader']),
        run.rok('A', home.a, ['group', 'add', 'acme', 'carol', '--role', 'reader']),
        run.rok('A', home.a, ['bucket', 'create', BUCKET, '--description', 'sample training set: labels, features, shards, disk image', '--tag', 'images'])
      ])
    })(),
    (async () => {
      await run.rok('A', home.a, ['group', 'create', 'open', '--public', '--description', 'free to use'])
      await run.rok('A', home.a, ['bucket', 'create', PUBLIC_BUCKET, '--description', 'sample label schema and examples', '--tag', 'images'])
    })(),
    (async () => {
      tier = await run.rok('A', home.a, ['tier', 'set', '--endpoint', s3.endpoint, '--bucket', s3.bucket, '--prefix', 'cluster-a', '--path-style'])
    })()
  ])
  say('   users alice (cluster A), bob (B), carol (C), eve (an outsider); private group acme (alice owns, bob and carol read); public group open')
  say(`   cluster A keeps its versions in an S3-compatible object store too: s3://${tier!.bucket}/${tier!.prefix} on s3rver at ${s3.endpoint};`)
  say('   its node pushes every new version there within seconds\n')

  say('2. Start the three clusters\' nodes; each registers with the registry')
  const nodeArgs = ['--registry-retry-max', '2', '--poll-interval', '5']
  const [a, b, c] = await Promise.all(clusters.map(async ([who, h]) => await run.startNode(who, h, nodeArgs)))
  const names = new Map([[a.peerId, 'A'], [b.peerId, 'B'], [c.peerId, 'C']])
  for (const n of [a, b, c]) await waitFor('registration', async () => (await n.api.syncStatus()).registry?.registered === true ? true : undefined)
  say(`   A ${a.peerId}\n   B ${b.peerId}\n   C ${c.peerId}\n`)

  say('3. Generate a sample dataset on cluster A')
  const t0 = performance.now()
  const shape = values.quick === true ? { ...QUICK_SHAPE, imageMib } : { ...DEFAULT_SHAPE, imageMib }
  const generated = await writeDataset(data, shape)
  const v1Print = await fingerprintTree(data)
  await writePublicSample(join(workDir, 'public-sample'))
  say(`   ${formatBytes(generated.bytes)} in ${generated.files} files: ${shape.labels} labels, ${shape.features} feature files, ${shape.shards} shards, a ${imageMib} MiB disk image (${seconds(t0).toFixed(1)} s)\n`)

  say(`4. Journey 1 — A publishes version 1 of ${BUCKET} (and a small public bucket)`)
  const v1 = await run.rok('A', home.a, ['publish', data, '--bucket', BUCKET, '-m', 'first cut'])
  await run.rok('A', home.a, ['publish', join(workDir, 'public-sample'), '--bucket', PUBLIC_BUCKET, '-m', 'schema v1'])
  say(`   ${BUCKET}@${v1.seq}: ${formatBytes(v1.size)} in ${v1.chunks} chunks, ${formatBytes(v1.newBytes)} stored (${(100 * (1 - v1.newBytes / v1.size)).toFixed(1)}% deduplicated within the version), ${mbps(v1.size, v1.seconds)}; its reference is ${v1.registry?.state ?? 'not recorded'} in the registry\n`)
  summary.push(['publish v1 on A', `${formatBytes(v1.size)} in ${v1.seconds.toFixed(1)} s (${mbps(v1.size, v1.seconds)}), ${formatBytes(v1.newBytes)} stored`])

  say('5. Journey 3 — search: members find the private bucket, the outsider does not')
  const bobSees = await run.rok('B', home.b, ['search', 'sample'])
  const eveSees = await run.rok('eve', home.eve, ['search', 'sample', '--registry', registry.url, '--token', tokens.eve])
  const list = (r: any): string[] => r.results.map((x: any) => x.bucket as string).sort()
  say(`   bob finds: ${list(bobSees).join(', ') || 'nothing'}`)
  say(`   eve finds: ${list(eveSees).join(', ') || 'nothing'}`)
  if (!list(bobSees).includes(BUCKET) || list(eveSees).includes(BUCKET)) throw new Error('search did not respect the private group')
  say('')

  say(`6. Journey 2 — B and C subscribe through the registry (it checks the ACL and grants); they sync peer to peer`)
  const tSub = performance.now()
  await Promise.all([run.rok('B', home.b, ['subscribe', BUCKET]), run.rok('C', home.c, ['subscribe', BUCKET])])
  const [b1, c1] = await Promise.all([caughtUp(b, 1), caughtUp(c, 1)])
  const subSecs = seconds(tSub)
  say(`   both hold @1 ${subSecs.toFixed(1)} s after subscribing:`)
  describeReport('B', b1, names)
  describeReport('C', c1, names)
  summary.push(['B and C subscribe to v1', `both done in ${subSecs.toFixed(1)} s; ${formatBytes((b1?.bytes ?? 0) + (c1?.bytes ?? 0))} received in all (${mbps((b1?.bytes ?? 0) + (c1?.bytes ?? 0), subSecs)})`])
  say('')

  say(`7. A publishes version 2 with a small change; only new chunks travel`)
  const changes = await changeDataset(data)
  say(`   change: ${changes.join(', ')}`)
  const tV2 = performance.now()
  const v2 = await run.rok('A', home.a, ['publish', data, '--bucket', BUCKET, '-m', 'relabelled'])
  const [b2, c2] = await Promise.all([caughtUp(b, 2), caughtUp(c, 2)])
  const v2Secs = seconds(tV2)
  say(`   ${BUCKET}@${v2.seq}: ${formatBytes(v2.size)}, of which ${formatBytes(v2.newBytes)} new in ${v2.newChunks} chunks (${(100 * (1 - v2.newBytes / v2.size)).toFixed(2)}% deduplicated)`)
  say(`   B and C hold @2 ${v2Secs.toFixed(1)} s after the publish started:`)
  describeReport('B', b2, names)
  describeReport('C', c2, names)
  summary.push(['v2 (small change)', `${formatBytes(v2.newBytes)} new of ${formatBytes(v2.size)}; B received ${formatBytes(b2?.bytes ?? 0)}, C ${formatBytes(c2?.bytes ?? 0)}; both synced in ${v2Secs.toFixed(1)} s`])
  say('')

  say('8. Journey 4 — C restores v1 and v2 and checks them byte for byte (bytes, modes, mtimes)')
  const v2Print = await fingerprintTree(data)
  for (const [seq, expected] of [[1, v1Print], [2, v2Print]] as const) {
    const dest = join(workDir, `c-restored-v${seq}`)
    const tR = performance.now()
    const r = await run.rok('C', home.c, ['restore', `${BUCKET}@${seq}`, dest])
    const rSecs = seconds(tR)
    const diff = differences(expected, await fingerprintTree(dest))
    if (diff.length > 0) throw new Error(`C's restore of v${seq} differs from what A published: ${diff.slice(0, 5).join(', ')}`)
    say(`   v${seq}: ${formatBytes(r.bytes)} restored in ${rSecs.toFixed(1)} s (${mbps(r.bytes, rSecs)}): identical to A's v${seq}, all ${expected.size} entries`)
  }
  summary.push(['restore on C', 'v1 and v2 identical to what A published, byte for byte'])
  say('')

  say('9. The registry stops; A publishes v3 and it still reaches B and C (the registry is never on the data path)')
  await registry.stop()
  say('   registry stopped')
  await extendDataset(data)
  const tV3 = performance.now()
  const v3 = await run.rok('A', home.a, ['publish', data, '--bucket', BUCKET, '-m', 'one more shard'])
  const [b3] = await Promise.all([caughtUp(b, 3), caughtUp(c, 3)])
  const v3Secs = seconds(tV3)
  say(`   ${BUCKET}@${v3.seq}: ${formatBytes(v3.newBytes)} new; its registry reference is ${v3.registry?.state ?? 'not recorded'} (delivered when the registry returns)`)
  say(`   B and C hold @3 ${v3Secs.toFixed(1)} s after the publish started`)
  describeReport('B', b3, names)
  summary.push(['v3 with the registry down', `reached B and C in ${v3Secs.toFixed(1)} s; reference ${v3.registry?.state ?? 'not recorded'}`])
  say('')

  say('10. What deduplication saved on A')
  const stats = await run.rok('A', home.a, ['stats'])
  say(`   ${formatBytes(stats.logicalBytes)} across ${stats.versions} versions stored in ${formatBytes(stats.storedBytes)}: dedup ratio ${stats.dedupRatio.toFixed(2)}×\n`)
  summary.push(['dedup on A', `${stats.versions} versions, ${formatBytes(stats.logicalBytes)} logical in ${formatBytes(stats.storedBytes)} stored: ${stats.dedupRatio.toFixed(2)}×`])

  say('11. What cluster A\'s object store holds (the node pushed each version by itself; a last push finds nothing left)')
  await Promise.all([a.stop(), b.stop(), c.stop()])
  const pushed = await run.rok('A', home.a, ['tier', 'push'])
  const tierStatus = await run.rok('A', home.a, ['tier', 'status'])
  say(`   ${pushed.versions.length === 0 ? 'nothing left to push' : `pushed ${pushed.versions.join(', ')} now`}; the tier holds ${tierStatus.pushedVersions} versions in ${tierStatus.packs} packs, ${formatBytes(tierStatus.packBytes)}${tierStatus.unpushedVersions.length > 0 ? `; not pushed: ${tierStatus.unpushedVersions.join(', ')}` : ''}\n`)
  summary.push(['object store (A\'s tier)', `${tierStatus.pushedVersions} versions in ${formatBytes(tierStatus.packBytes)} (${pushed.versions.length === 0 ? 'all pushed by the node itself' : `${pushed.versions.length} pushed at the end`})`])

  await run.stopAll()
  summary.push(['total time', `${seconds(started).toFixed(1)} s`])
  say('Summary')
  const width = Math.max(...summary.map(([k]) => k.length))
  for (const [k, v] of summary) say(`  ${k.padEnd(width)}  ${v}`)
  if (keep) {
    say(`\nKept everything in ${workDir}. The nodes, the registry and the object store are stopped; to explore:`)
    say(`  npx rok log ${BUCKET} --home ${home.c}              # versions C holds`)
    say(`  npx rok diff ${BUCKET}@1 ${BUCKET}@2 --home ${home.a}  # what changed`)
    say(`  npx rok stats --home ${home.b}`)
    say(`  npx node test/fixtures/s3-server.ts ${join(workDir, 'object-store')} ${s3.port} ${s3.bucket} &   # the object store again, then:`)
    say(`  AWS_ACCESS_KEY_ID=${s3.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey} npx rok tier list --home ${home.a}`)
    say(`  npx rok registry start --data ${home.registry} --listen ${new URL(registry.url).host} --home ${home.registry} &`)
    say(`  AWS_ACCESS_KEY_ID=${s3.accessKeyId} AWS_SECRET_ACCESS_KEY=${s3.secretAccessKey} npx rok node start --home ${home.a} &   # then: npx rok status --home ${home.a}; npx rok doctor --home ${home.a}`)
  }
} catch (err) {
  if (!interrupted) {
    process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`)
    process.exitCode = 1
  }
} finally {
  await run.stopAll()
  await s3.kill()
  if (!keep && !interrupted) await rm(workDir, { recursive: true, force: true })
}
