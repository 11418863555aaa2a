/**
 * The main job on embedded defaults: runs the user journeys that exist so far with the
 * real `rok` CLI on a generated sample dataset, and narrates the figures.
 *
 *   npm run demo            # everything in a temporary folder, removed at the end
 *   npm run demo -- --keep  # keep the folder (its path is printed) to explore with the CLI
 */
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, open, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { seededBytes, seededRandom } from '../test/fixtures/seeded.ts'
import { compareTrees } from '../test/fixtures/tree-compare.ts'
import { formatBytes } from './cli/output.ts'

const ROK = fileURLToPath(new URL('./rok.js', import.meta.url))
const { values } = parseArgs({ options: { keep: { type: 'boolean' }, 'size-mib': { type: 'string' } } })
const imageMib = Number(values['size-mib'] ?? 128)

async function rok (args: string[], home: string): Promise<any> {
  const shown = args.map(a => a.startsWith('/') ? a.replace(workDir, '$DEMO') : a).join(' ')
  process.stdout.write(`  $ rok ${shown}\n`)
  const child = spawn(process.execPath, [ROK, ...args, '--home', home, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  if (code !== 0) throw new Error(`rok ${args[0]} failed (exit ${code}): ${out}`)
  return JSON.parse(out)
}

/** Start `rok node start` for a home in the background; resolves once its API is up. */
async function startNode (nodeHome: string, args: string[]): Promise<{ addr: string, stop: () => void, exited: Promise<void> }> {
  process.stdout.write(`  $ rok node start ${args.join(' ')} &\n`)
  const child = spawn(process.execPath, [ROK, 'node', 'start', '--home', nodeHome, ...args], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  const { readFile } = await import('node:fs/promises')
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    try {
      const info = JSON.parse(await readFile(join(nodeHome, 'node.json'), 'utf8')) as { pid: number, addrs: string[], peerId: string }
      if (info.pid === child.pid) {
        return { addr: info.addrs.find(a => a.includes('/p2p/')) ?? `${info.addrs[0]}/p2p/${info.peerId}`, stop: () => { child.kill('SIGTERM') }, exited }
      }
    } catch {}
    if (child.exitCode !== null) break
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  child.kill('SIGKILL')
  throw new Error(`the node of ${nodeHome} did not start`)
}

/** A dataset like ML teams version: many small label/config files, some shards, one big image. */
async function writeDataset (root: string): Promise<number> {
  const next = seededRandom(2026)
  let bytes = 0
  for (let i = 0; i < 400; i++) {
    const dir = join(root, 'labels', `part-${i % 10}`)
    await mkdir(dir, { recursive: true })
    const size = 200 + (next() % 6000)
    await writeFile(join(dir, `sample-${i}.json`), seededBytes(i, size))
    bytes += size
  }
  await mkdir(join(root, 'shards'), { recursive: true })
  for (let i = 0; i < 8; i++) {
    const size = (2 + (next() % 6)) * 1024 * 1024
    await writeFile(join(root, 'shards', `shard-${i}.bin`), seededBytes(10_000 + i, size))
    bytes += size
  }
  const image = await open(join(root, 'disk.img'), 'w')
  for (let mib = 0; mib < imageMib; mib += 8) {
    const block = seededBytes(20_000 + mib, 8 * 1024 * 1024)
    await image.write(block, 0, block.length, mib * 1024 * 1024)
  }
  await image.close()
  bytes += imageMib * 1024 * 1024
  await writeFile(join(root, 'README.txt'), 'sample dataset v1\n')
  return bytes
}

/** v2: edit a few labels, add a shard, insert bytes into the image (shifting everything after). */
async function changeDataset (root: string): Promise<void> {
  for (const i of [3, 77, 150]) await appendFile(join(root, 'labels', `part-${i % 10}`, `sample-${i}.json`), '{"relabelled":true}\n')
  await writeFile(join(root, 'shards', 'shard-new.bin'), seededBytes(99_999, 1024 * 1024))
  const { readFile } = await import('node:fs/promises')
  const image = await readFile(join(root, 'disk.img'))
  await writeFile(join(root, 'disk.img'), Buffer.concat([image.subarray(0, 5_000_000), Buffer.from('a small insertion that shifts the rest of the image'), image.subarray(5_000_000)]))
  await writeFile(join(root, 'README.txt'), 'sample dataset v2\n')
}

const workDir = await mkdtemp(join(tmpdir(), 'rok-demo-'))
const home = join(workDir, 'cluster-a')
const data = join(workDir, 'dataset')
const started = performance.now()
try {
  console.log('Rok demo: version a dataset like code, get any version back exactly, share it with another cluster.\n')
  console.log('1. A node home for cluster A')
  const init = await rok(['init'], home)
  console.log(`   peer ID ${init.peerId}\n`)

  console.log('2. Generate a sample dataset (labels, shards, a disk image)')
  const size = await writeDataset(data)
  console.log(`   ${formatBytes(size)} in ${400 + 8 + 2} files\n`)

  console.log('3. Snapshot it as version 1 of bucket acme/sample')
  const v1 = await rok(['snapshot', data, '--bucket', 'acme/sample', '-m', 'first cut'], home)
  console.log(`   acme/sample@${v1.seq}: ${formatBytes(v1.size)} in ${v1.chunks} chunks, stored ${formatBytes(v1.newBytes)} at ${(v1.size / 1e6 / v1.seconds).toFixed(0)} MB/s\n`)

  console.log('4. Change it a little (3 labels edited, 1 shard added, 51 bytes inserted into the image) and snapshot version 2')
  await changeDataset(data)
  const v2 = await rok(['snapshot', data, '--bucket', 'acme/sample', '-m', 'relabelled'], home)
  console.log(`   acme/sample@${v2.seq}: ${formatBytes(v2.size)}, but only ${formatBytes(v2.newBytes)} new (${v2.newChunks} of ${v2.chunks} chunks); ${(100 * (1 - v2.newBytes / v2.size)).toFixed(2)}% deduplicated\n`)

  console.log('5. What changed between the versions')
  const diff = await rok(['diff', 'acme/sample@1', 'acme/sample@2'], home)
  for (const c of diff.changes) console.log(`   ${c.kind.padEnd(8)} ${c.path}${c.bytes > 0 ? `  (${formatBytes(c.bytes)} differ)` : ''}`)
  console.log()

  console.log('6. Restore both versions and compare them byte for byte with what was snapshotted')
  const v2dest = join(workDir, 'restored-v2')
  await rok(['restore', 'acme/sample@2', v2dest], home)
  const d2 = await compareTrees(data, v2dest)
  if (d2.length > 0) throw new Error(`restored v2 differs: ${JSON.stringify(d2.slice(0, 5))}`)
  console.log('   v2: identical bytes, modes, mtimes and links')
  const v1dest = join(workDir, 'restored-v1')
  const r1 = await rok(['restore', 'acme/sample@1', v1dest], home)
  const diffBack = await compareTrees(v1dest, data)
  console.log(`   v1: ${formatBytes(r1.bytes)} restored; it differs from today's data in exactly ${new Set(diffBack.map(d => d.path.split('/')[0])).size} top-level places, as expected\n`)

  console.log('7. Verify the store and show what deduplication saved')
  const verify = await rok(['verify'], home)
  const stats = await rok(['stats'], home)
  console.log(`   verify: ${verify.ok ? 'ok' : 'DAMAGED'}, ${verify.blocks} blocks`)
  console.log(`   ${formatBytes(stats.logicalBytes)} across ${stats.versions} versions stored in ${formatBytes(stats.storedBytes)}: dedup ratio ${stats.dedupRatio.toFixed(2)}×\n`)
  if (!verify.ok) process.exitCode = 1

  console.log('8. Cluster B subscribes: start both nodes, A allows B, B follows acme/sample')
  const homeB = join(workDir, 'cluster-b')
  const initB = await rok(['init'], homeB)
  const nodeA = await startNode(home, [])
  const nodeB = await startNode(homeB, ['--bootstrap', nodeA.addr])
  try {
    await rok(['allow', 'acme/sample', initB.peerId], home)
    await rok(['subscribe', 'acme/sample', '--peer', nodeA.addr], homeB)
    const caught = await rok(['sync', 'acme/sample'], homeB)
    const first = caught.versions > 0 ? caught : (await rok(['status'], homeB)).subscriptions[0].last
    console.log(`   B caught up to @${first.toSeq} (${first.versions} versions): received ${formatBytes(first.bytes)} — the store's ${formatBytes(stats.storedBytes)}, not the ${formatBytes(stats.logicalBytes)} of all versions\n`)

    console.log('9. A publishes version 3 (one more shard); B receives it by itself, only the new chunks')
    await writeFile(join(data, 'shards', 'shard-v3.bin'), seededBytes(77_777, 3 * 1024 * 1024))
    const published = performance.now()
    const v3 = await rok(['publish', data, '--bucket', 'acme/sample', '-m', 'one more shard'], home)
    let sub: any
    while ((sub = (await rok(['status'], homeB)).subscriptions[0]).localHead < v3.seq) {
      if (performance.now() - published > 60_000) throw new Error('v3 did not reach B within a minute')
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    const last = sub.last
    console.log(`   acme/sample@${v3.seq} reached B ${((performance.now() - published) / 1000).toFixed(1)} s after publish started; B received ${formatBytes(last.bytes)} for ${formatBytes(v3.newBytes)} of new chunks`)
    for (const p of last.peers) console.log(`   ${p.peer.slice(0, 16)}… served ${formatBytes(p.bytes)} (${p.why})`)
    const v3dest = join(workDir, 'restored-v3-on-b')
    await rok(['restore', 'acme/sample@3', v3dest], homeB)
    const d3 = await compareTrees(data, v3dest)
    if (d3.length > 0) throw new Error(`B's restore of v3 differs: ${JSON.stringify(d3.slice(0, 5))}`)
    console.log('   B restored v3: identical to what A published\n')
  } finally {
    nodeB.stop()
    nodeA.stop()
    await Promise.all([nodeA.exited, nodeB.exited])
  }
  console.log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`)
  if (values.keep === true) console.log(`Kept everything in ${workDir}; try: npx rok log acme/sample --home ${home}`)
} finally {
  if (values.keep !== true) await rm(workDir, { recursive: true, force: true })
}
