/**
 * bench/ingest: snapshot v1, snapshot v2 and restore of a generated block image and of a
 * generated tree of small files, by Rok, restic and casync in the same run.
 *
 *   npx node bench/ingest/run.ts [--runs 3] [--size-mib 1024] [--files 20000]
 *        [--datasets image,tree] [--tools rok,restic,casync] [--dir /work/rok-bench-ingest]
 *        [--seed rok-bench-1] [--keep] [--verify-all] [--profile DIR]
 *
 * Every phase runs as a child process under GNU time (peak RSS), starts with the page
 * cache dropped (cold reads, as for a volume nobody has touched since it was written)
 * and ends with `sync` (writes durable, whoever deferred them). MB/s is 10^6 bytes of
 * the volume's logical size per second of wall time. "Added by v2" is the growth of the
 * repository folder (`du -sb`) across the v2 snapshot, and the tool's own figure.
 * v1 and v2 are each moved (renamed) to the same path before they are snapshotted, as if
 * one volume had changed in place: restic and Rok then use their parent snapshot to skip
 * unchanged files of the tree (casync has no such rule and reads everything).
 * Results: medians over runs, printed as a Markdown table and saved as JSON.
 */
import { execFileSync } from 'node:child_process'
import { cpus, totalmem } from 'node:os'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeDataSet, type DataSet } from './data.ts'
import { dropCaches, duBytes, median, type Measured } from './measure.ts'
import { casync, restic, rok, type Kind, type Tool } from './tools.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '1024' },
    files: { type: 'string', default: '20000' },
    datasets: { type: 'string', default: 'image,tree' },
    tools: { type: 'string', default: 'rok,restic,casync' },
    dir: { type: 'string', default: '/work/rok-bench-ingest' },
    seed: { type: 'string', default: 'rok-bench-1' },
    keep: { type: 'boolean', default: false },
    'verify-all': { type: 'boolean', default: false },
    /** Write V8 CPU profiles of every Rok phase to this folder. */
    profile: { type: 'string' }
  }
})

const runs = Number(values.runs)
const sizeMiB = Number(values['size-mib'])
const files = Number(values.files)
const kinds = values.datasets.split(',') as Kind[]
const base = values.dir
const log = (s: string): void => { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`) }

let profilePhase = ''
const rokArgs = (): string[] => values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`, `--cpu-prof-name=${profilePhase}.cpuprofile`]
const allTools: Record<string, Tool> = { rok: rok(rokArgs), restic: restic(), casync: casync() }
const tools = values.tools.split(',').map(n => { const t = allTools[n]; if (t === undefined) throw new Error(`unknown tool ${n}`); return t })

interface Row {
  run: number
  tool: string
  kind: Kind
  snap1MBs: number
  snap2MBs: number
  restoreMBs: number
  /** du -sb growth of the repository across the v2 snapshot. */
  added: number
  /** The tool's own figure for v2's new bytes. */
  ownAdded: number
  repoAfterV1: number
  peakRss: number
  rss: { snap1: number, snap2: number, restore: number }
  /** The phases' resident set at its sampled peak, split anonymous / file-mapped (measure.ts). */
  rssAtPeak: { snap1?: Measured['rssAtPeak'], snap2?: Measured['rssAtPeak'], restore?: Measured['rssAtPeak'] }
  seconds: { snap1: number, snap2: number, restore: number }
  /** CPU seconds (user+system) per GB of volume, per phase. */
  cpuPerGB: { snap1: number, snap2: number, restore: number }
}

function machine (): Record<string, string> {
  const sh = (cmd: string, args: string[]): string => { try { return execFileSync(cmd, args, { encoding: 'utf8' }).trim() } catch { return '?' } }
  return {
    cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}`,
    memory: `${(totalmem() / 1024 ** 3).toFixed(0)} GiB`,
    kernel: sh('uname', ['-r']),
    disk: sh('sh', ['-c', `df -hT ${base} | tail -1 | awk '{print $1" "$2" "$3}'`]),
    node: process.version,
    rok: sh('git', ['-C', fileURLToPath(new URL('../../', import.meta.url)), 'log', '-1', '--format=%h %cI', '--', 'node', 'bin', 'protocol']) +
      (sh('git', ['-C', fileURLToPath(new URL('../../', import.meta.url)), 'status', '--porcelain', '--', 'node', 'bin', 'protocol']) === '' ? '' : ' (+ uncommitted changes in node/bin/protocol)'),
    restic: sh('restic', ['version']).split(' ').slice(0, 2).join(' '),
    casync: sh('casync', ['--version']).split('\n')[0]
  }
}

async function verifyRestore (ds: DataSet, kind: Kind, restored: string): Promise<void> {
  if (kind === 'image') {
    const sum = execFileSync('sha256sum', [restored], { encoding: 'utf8' }).split(' ')[0]
    if (sum !== ds.image.sha2) throw new Error(`restored image ${restored} differs from v2`)
  } else {
    execFileSync('diff', ['-r', '-q', ds.tree.v2, restored], { stdio: ['ignore', 'ignore', 'pipe'] })
  }
}

async function main (): Promise<void> {
  await mkdir(base, { recursive: true })
  const env = machine()
  log(JSON.stringify(env))
  const dataDir = join(base, `data-${sizeMiB}m-${files}f-${values.seed}`)
  const ds = await makeDataSet(dataDir, values.seed, sizeMiB, files, log)
  log(`image ${ds.image.size1} → ${ds.image.size2} bytes, ${ds.image.edits} edits (${ds.image.insertions} insertions), ${ds.image.changedBytes} bytes written by edits; tree ${ds.tree.files1} files ${ds.tree.bytes1} bytes → ${ds.tree.files2} files ${ds.tree.bytes2} bytes`)
  const cold = dropCaches()
  log(cold ? 'page cache dropped before every phase' : 'cannot drop the page cache: every tool reads warm')
  if (values.profile !== undefined) await mkdir(values.profile, { recursive: true })
  // per data set: two invocations with different sizes can run side by side
  const work = join(base, `work-${sizeMiB}m-${files}f`)
  const rows: Row[] = []
  for (let run = 1; run <= runs; run++) {
    // rotate the order so no tool always goes first
    const order = tools.map((_, i) => tools[(i + run - 1) % tools.length])
    for (const kind of kinds) {
      const src1 = kind === 'image' ? ds.image.v1 : ds.tree.v1
      const src2 = kind === 'image' ? ds.image.v2 : ds.tree.v2
      const live = join(ds.dir, 'live', kind === 'image' ? 'image.img' : 'tree')
      await mkdir(join(ds.dir, 'live'), { recursive: true })
      /** Runs `f` with version `src` moved to the live path, and moves it back. */
      const atLive = async <T>(src: string, f: () => Promise<T>): Promise<T> => {
        await rename(src, live)
        try { return await f() } finally { await rename(live, src) }
      }
      const size1 = kind === 'image' ? ds.image.size1 : ds.tree.bytes1
      const size2 = kind === 'image' ? ds.image.size2 : ds.tree.bytes2
      for (const tool of order) {
        const dir = join(work, `${tool.name}-${kind}`)
        await rm(dir, { recursive: true, force: true })
        await mkdir(dir, { recursive: true })
        await tool.init(dir)
        const phase = (p: string): void => { profilePhase = `${kind}-${p}-run${run}`; dropCaches() }
        phase('snap1')
        const s1 = await atLive(src1, async () => await tool.snapshot(dir, kind, 1, live))
        const repoAfterV1 = duBytes(dir)
        phase('snap2')
        const s2 = await atLive(src2, async () => await tool.snapshot(dir, kind, 2, live))
        const repoAfterV2 = duBytes(dir)
        const dest = join(work, `restore-${tool.name}-${kind}${kind === 'image' ? '.img' : ''}`)
        await rm(dest, { recursive: true, force: true })
        phase('restore')
        const r = await tool.restore(dir, kind, live, dest)
        if (run === 1 || values['verify-all']) await verifyRestore(ds, kind, r.restored)
        await rm(dest, { recursive: true, force: true })
        const row: Row = {
          run, tool: tool.name, kind,
          snap1MBs: size1 / 1e6 / s1.seconds,
          snap2MBs: size2 / 1e6 / s2.seconds,
          restoreMBs: size2 / 1e6 / r.seconds,
          added: repoAfterV2 - repoAfterV1,
          ownAdded: s2.ownNewBytes ?? NaN,
          repoAfterV1,
          peakRss: Math.max(s1.peakRss, s2.peakRss, r.peakRss),
          rss: { snap1: s1.peakRss, snap2: s2.peakRss, restore: r.peakRss },
          rssAtPeak: { snap1: s1.rssAtPeak, snap2: s2.rssAtPeak, restore: r.rssAtPeak },
          seconds: { snap1: s1.seconds, snap2: s2.seconds, restore: r.seconds },
          cpuPerGB: { snap1: s1.cpuSeconds / (size1 / 1e9), snap2: s2.cpuSeconds / (size2 / 1e9), restore: r.cpuSeconds / (size2 / 1e9) }
        }
        rows.push(row)
        const parts = (p?: Measured['rssAtPeak']): string => p === undefined ? '?' : `${(p.total / 2 ** 20).toFixed(0)} (anon ${(p.anon / 2 ** 20).toFixed(0)}, file ${(p.file / 2 ** 20).toFixed(0)}) at ${p.atSeconds.toFixed(1)} s`
        log(`run ${run} ${kind} ${tool.name}: sampled peak RSS MiB snap1 ${parts(row.rssAtPeak.snap1)}, snap2 ${parts(row.rssAtPeak.snap2)}, restore ${parts(row.rssAtPeak.restore)}`)
        log(`run ${run} ${kind} ${tool.name}: snap1 ${row.snap1MBs.toFixed(0)} MB/s, snap2 ${row.snap2MBs.toFixed(0)} MB/s, restore ${row.restoreMBs.toFixed(0)} MB/s, v2 added ${(row.added / 1e6).toFixed(1)} MB (own ${(row.ownAdded / 1e6).toFixed(1)} MB), peak RSS ${(row.peakRss / 2 ** 20).toFixed(0)} MiB, CPU s/GB ${row.cpuPerGB.snap1.toFixed(2)}/${row.cpuPerGB.snap2.toFixed(2)}/${row.cpuPerGB.restore.toFixed(2)}`)
        if (!values.keep) await rm(dir, { recursive: true, force: true })
      }
    }
  }
  const table = report(rows, ds, env, cold)
  const load = execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).trim()
  process.stdout.write(`${table}load average at the end: ${load}\n`)
  const out = join(base, `results-${sizeMiB}m-${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  await writeFile(out, JSON.stringify({ argv: process.argv.slice(2), machine: env, cold, dataset: ds, rows }, null, 2))
  log(`raw results in ${out}`)
}

function report (rows: Row[], ds: DataSet, env: Record<string, string>, cold: boolean): string {
  const mb = (b: number): string => Number.isFinite(b) ? (b / 1e6).toFixed(1) : '—'
  const lines: string[] = []
  lines.push(`machine: ${Object.entries(env).map(([k, v]) => `${k} ${v}`).join('; ')}; page cache ${cold ? 'dropped before every phase' : 'warm'}`)
  lines.push(`image: ${ds.image.size1} B, v2 ${ds.image.edits} edits (${ds.image.insertions} insertions, ${ds.image.changedBytes} B written); tree: ${ds.tree.files1} files / ${ds.tree.bytes1} B, v2 ${ds.tree.files2} files / ${ds.tree.bytes2} B; runs: ${runs}`)
  lines.push('')
  lines.push('| data | tool | snapshot v1 MB/s | snapshot v2 MB/s | restore MB/s | v2 added, du (MB) | v2 added, own figure (MB) | repo after v1 (MB) | peak RSS (MiB) |')
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|')
  const med = (kind: Kind, tool: string, f: (r: Row) => number): number => median(rows.filter(r => r.kind === kind && r.tool === tool).map(f))
  for (const kind of kinds) {
    for (const t of tools) {
      const m = (f: (r: Row) => number): number => med(kind, t.name, f)
      lines.push(`| ${kind} | ${t.name} | ${m(r => r.snap1MBs).toFixed(0)} | ${m(r => r.snap2MBs).toFixed(0)} | ${m(r => r.restoreMBs).toFixed(0)} | ${mb(m(r => r.added))} | ${mb(m(r => r.ownAdded))} | ${mb(m(r => r.repoAfterV1))} | ${(m(r => r.peakRss) / 2 ** 20).toFixed(0)} |`)
    }
    for (const other of ['restic', 'casync']) {
      if (!tools.some(t => t.name === 'rok') || !tools.some(t => t.name === other)) continue
      const ratio = (f: (r: Row) => number): string => (med(kind, 'rok', f) / med(kind, other, f)).toFixed(2)
      lines.push(`| ${kind} | rok/${other} | ${ratio(r => r.snap1MBs)}× | ${ratio(r => r.snap2MBs)}× | ${ratio(r => r.restoreMBs)}× | ${ratio(r => r.added)}× | ${ratio(r => r.ownAdded)}× | ${ratio(r => r.repoAfterV1)}× | ${ratio(r => r.peakRss)}× |`)
    }
  }
  lines.push('')
  lines.push('| data | tool | CPU s/GB snapshot v1 | CPU s/GB snapshot v2 | CPU s/GB restore | snapshot v1 MB/s min–max | snapshot v2 MB/s min–max | restore MB/s min–max |')
  lines.push('|---|---|---:|---:|---:|---|---|---|')
  for (const kind of kinds) {
    for (const t of tools) {
      const sel = rows.filter(r => r.kind === kind && r.tool === t.name)
      const span = (f: (r: Row) => number): string => `${Math.min(...sel.map(f)).toFixed(0)}–${Math.max(...sel.map(f)).toFixed(0)}`
      const cpu = (p: 'snap1' | 'snap2' | 'restore'): string => median(sel.map(r => r.cpuPerGB[p])).toFixed(2)
      lines.push(`| ${kind} | ${t.name} | ${cpu('snap1')} | ${cpu('snap2')} | ${cpu('restore')} | ${span(r => r.snap1MBs)} | ${span(r => r.snap2MBs)} | ${span(r => r.restoreMBs)} |`)
    }
  }
  lines.push('')
  lines.push('per-phase peak RSS (MiB, median): ' + kinds.flatMap(kind => tools.map(t =>
    `${kind}/${t.name} ${['snap1', 'snap2', 'restore'].map(p => (med(kind, t.name, r => r.rss[p as 'snap1']) / 2 ** 20).toFixed(0)).join('/')}`)).join('; '))
  return lines.join('\n') + '\n'
}

await main()
