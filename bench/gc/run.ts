/**
 * bench/gc: garbage collection over a store of ~100,000 chunks, Rok against `restic prune`
 * on the same data in the same run.
 *
 *   npx node bench/gc/run.ts [--files 100000] [--file-size 2048] [--dir /work/rok-bench-gc]
 *        [--tools rok,restic] [--keep]
 *
 * The volume is `--files` small files (each one chunk in Rok and one blob in restic). v1 is
 * snapshotted; then half of the files get new contents and v2 is snapshotted; then v1 is
 * forgotten (`rok forget --keep-last 1`, `restic forget --keep-last 1`), which leaves half
 * of v1's chunks unreferenced, spread through every pack. Timed: `rok gc --dry-run
 * --grace 0` (mark and scan only), `rok gc --grace 0` (mark, sweep, rewrite the mostly-dead
 * packs) and `restic prune` — each as a child process, wall time, after `sync`. Afterwards
 * `rok verify` must pass and v2 must restore; the result table is printed as Markdown and
 * saved as JSON beside this file (results/).
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { seededBytes } from '../../test/fixtures/seeded.ts'

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '100000' },
    'file-size': { type: 'string', default: '2048' },
    dir: { type: 'string', default: '/work/rok-bench-gc' },
    tools: { type: 'string', default: 'rok,restic' },
    keep: { type: 'boolean', default: false }
  }
})
const files = Number(values.files)
const fileSize = Number(values['file-size'])
const base = values.dir
const tools = values.tools.split(',')
const ROK = fileURLToPath(new URL('../../bin/rok.js', import.meta.url))
const log = (s: string): void => { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`) }

function timed (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { seconds: number, stdout: string } {
  execFileSync('sync')
  const started = performance.now()
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })
  const seconds = (performance.now() - started) / 1000
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return { seconds, stdout: r.stdout }
}

const rok = (args: string[]): { seconds: number, json: any } => {
  const r = timed(process.execPath, [ROK, ...args, '--home', join(base, 'rok-home'), '--json'])
  return { seconds: r.seconds, json: JSON.parse(r.stdout) }
}

async function writeVolume (vol: string, version: 1 | 2): Promise<void> {
  await mkdir(vol, { recursive: true })
  for (let i = 0; i < files; i++) {
    // v2 keeps the even files and rewrites the odd ones
    if (version === 2 && i % 2 === 0) continue
    const dir = join(vol, `d${Math.floor(i / 1000)}`)
    if (i % 1000 === 0) await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `f${i}`), seededBytes(version * 10_000_000 + i, fileSize))
  }
}

await rm(base, { recursive: true, force: true })
const vol = join(base, 'vol')
const results: Record<string, unknown> = { files, fileSize, date: new Date().toISOString() }
log(`writing v1: ${files} files of ${fileSize} bytes`)
await writeVolume(vol, 1)

const resticEnv = { RESTIC_PASSWORD: 'rok-bench', RESTIC_REPOSITORY: join(base, 'restic-repo'), RESTIC_CACHE_DIR: join(base, 'restic-cache') }
if (tools.includes('rok')) {
  rok(['init'])
  const v1 = rok(['snapshot', vol, '--bucket', 'bench/gc'])
  log(`rok v1: ${v1.json.chunks} chunks in ${v1.seconds.toFixed(1)} s`)
}
if (tools.includes('restic')) {
  execFileSync('restic', ['init'], { env: { ...process.env, ...resticEnv }, stdio: 'ignore' })
  const b1 = timed('restic', ['backup', '--host', 'bench', vol], resticEnv)
  log(`restic v1 backup in ${b1.seconds.toFixed(1)} s`)
}
log('writing v2: half of the files get new contents')
await writeVolume(vol, 2)

if (tools.includes('rok')) {
  const v2 = rok(['snapshot', vol, '--bucket', 'bench/gc'])
  log(`rok v2: ${v2.json.newChunks} new chunks in ${v2.seconds.toFixed(1)} s`)
  const stats = rok(['stats']).json
  rok(['forget', 'bench/gc', '--keep-last', '1'])
  const dry = rok(['gc', '--dry-run', '--grace', '0'])
  log(`rok gc --dry-run: ${dry.json.deadBlocks} of ${dry.json.liveBlocks + dry.json.deadBlocks} blocks unreferenced, ${dry.seconds.toFixed(1)} s`)
  const gc = rok(['gc', '--grace', '0'])
  log(`rok gc: swept ${gc.json.sweptBlocks} blocks, rewrote ${gc.json.packsRewritten} packs, ${gc.seconds.toFixed(1)} s wall (${gc.json.seconds.toFixed(1)} s in gc)`)
  const verify = rok(['verify'])
  if (verify.json.ok !== true) throw new Error('rok verify failed after gc')
  const restored = join(base, 'rok-restore')
  rok(['restore', 'bench/gc@2', restored])
  await rm(restored, { recursive: true, force: true })
  results.rok = {
    blocksBefore: stats.blocks,
    packBytesBefore: gc.json.packBytesBefore,
    packBytesAfter: gc.json.packBytesAfter,
    deadBlocks: dry.json.deadBlocks,
    dryRunSeconds: dry.seconds,
    gcSeconds: gc.seconds,
    gcInternalSeconds: gc.json.seconds,
    sweptBlocks: gc.json.sweptBlocks,
    packsRewritten: gc.json.packsRewritten,
    packsRemoved: gc.json.packsRemoved
  }
}
if (tools.includes('restic')) {
  timed('restic', ['backup', '--host', 'bench', vol], resticEnv)
  timed('restic', ['forget', '--keep-last', '1'], resticEnv)
  const prune = timed('restic', ['prune'], resticEnv)
  log(`restic prune: ${prune.seconds.toFixed(1)} s`)
  results.restic = { version: execFileSync('restic', ['version'], { encoding: 'utf8' }).trim(), pruneSeconds: prune.seconds }
}

const r = results.rok as Record<string, number> | undefined
const s = results.restic as { pruneSeconds: number } | undefined
const mb = (n: number): string => (n / 1e6).toFixed(0)
console.log(`\n| ${files.toLocaleString('en')} files × ${fileSize} B | blocks in store | unreferenced | time |`)
console.log('|---|---|---|---|')
if (r !== undefined) {
  console.log(`| rok gc --dry-run --grace 0 | ${r.blocksBefore} | ${r.deadBlocks} | ${r.dryRunSeconds.toFixed(1)} s |`)
  console.log(`| rok gc --grace 0 (packs ${mb(r.packBytesBefore)} → ${mb(r.packBytesAfter)} MB, ${r.packsRewritten} rewritten) | ${r.blocksBefore} | ${r.sweptBlocks} swept | ${r.gcSeconds.toFixed(1)} s |`)
}
if (s !== undefined) console.log(`| restic prune | | | ${s.pruneSeconds.toFixed(1)} s |`)
const out = fileURLToPath(new URL(`./results/gc-${files}.json`, import.meta.url))
await mkdir(join(out, '..'), { recursive: true })
await writeFile(out, JSON.stringify(results, null, 2) + '\n')
if (values.keep !== true) await rm(base, { recursive: true, force: true })
