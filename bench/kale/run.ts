/**
 * bench/kale: the overhead of `kale run` over running the same code as one plain Python
 * script, for a STEPS-step pipeline passing a MIB MiB numpy array from step to step.
 *
 *   npx node bench/kale/run.ts [--python /usr/bin/python3] [--steps 10] [--mib 100]
 *        [--runs 3] [--dir /tmp/kale-bench] [--no-snapshot-variant]
 *
 * Variants, each timed end to end as a user would (wall clock, medians over runs):
 *   plain      one `python3 script.py` running every step's code in order, in memory
 *   kale       `kale run NOTEBOOK --no-snapshot`: one process per step, each forked
 *              from the step before once its code has run (a linear chain), inheriting
 *              the array while the step before saves it as .npy on the other core
 *   kale fresh the same with `--fresh-python`: a new python3 (and numpy import) per step
 *   kale+rok   the same with a Rok home (kale run's default then): the run's data folder
 *              snapshotted by the node engine after every step, in the background
 *   tiny       plain and kale for the same steps passing one small int, which isolates
 *              Kale's fixed cost per step (process start, imports, analysis, records)
 * Targets (issue 6): kale < 2x plain, and fixed overhead < 1 s per step.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { notebook } from '../../kale/examples/build.ts'
import { openEngine } from '../../node/engine.ts'

const { values } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.KALE_PYTHON ?? '/usr/bin/python3' },
    steps: { type: 'string', default: '10' },
    mib: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: '/tmp/kale-bench' },
    'no-snapshot-variant': { type: 'boolean', default: false }
  }
})
const python = values.python
const steps = Number(values.steps)
const mib = Number(values.mib)
const runs = Number(values.runs)
const dir = values.dir
const KALE = fileURLToPath(new URL('../../bin/kale.js', import.meta.url))
const log = (s: string): void => { process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`) }

interface Workload { name: string, imports: string, first: string, step: string, last: string }

const elements = Math.floor(mib * 1024 * 1024 / 8)
const big: Workload = {
  name: 'array',
  imports: 'import numpy as np',
  first: `arr = np.arange(${elements}, dtype=np.float64)`,
  // A whole-array transformation per step, so every step really reads and writes it.
  step: 'arr = arr * 1.0000001 + 1.0',
  last: 'print("checksum", float(arr[-1]))'
}
const tiny: Workload = { name: 'tiny', imports: 'import math', first: 'x = 0', step: 'x = x + 1', last: 'print("x", x)' }

function cellsOf (w: Workload): Array<{ tags: string[], code: string }> {
  const cells = [{ tags: ['imports'], code: w.imports }]
  for (let i = 0; i < steps; i++) {
    const code = [i === 0 ? w.first : w.step, ...(i === steps - 1 ? [w.last] : [])].join('\n')
    cells.push({ tags: [`step:s${i}`, ...(i > 0 ? [`prev:s${i - 1}`] : [])], code })
  }
  return cells
}

async function prepare (w: Workload): Promise<{ nb: string, script: string }> {
  const cells = cellsOf(w)
  const nb = join(dir, `${w.name}.ipynb`)
  await writeFile(nb, JSON.stringify(notebook(cells, { pipeline_name: `bench-${w.name}` })))
  const script = join(dir, `${w.name}.py`)
  await writeFile(script, cells.map(c => c.code).join('\n') + '\n')
  return { nb, script }
}

const TIME = '/usr/bin/time'
const hasTime = existsSync(TIME)

/**
 * Wall clock, and CPU seconds (user + system of the process and every descendant it
 * waited for, from GNU time): on a shared machine CPU time is the steadier comparison.
 */
function time (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): { wall: number, cpu: number } {
  execFileSync('sync')
  const cpuFile = join(dir, 'cpu.txt')
  const [bin, argv] = hasTime ? [TIME, ['-f', '%U %S', '-o', cpuFile, cmd, ...args]] : [cmd, args]
  const t0 = performance.now()
  const res = spawnSync(bin, argv, { env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 })
  const wall = (performance.now() - t0) / 1000
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${res.stderr.toString().slice(-2000)}`)
  const cpu = hasTime ? readFileSync(cpuFile, 'utf8').trim().split(/\s+/).map(Number).reduce((a, b) => a + b, 0) : NaN
  return { wall, cpu }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

async function main (): Promise<void> {
  execFileSync(python, ['-c', 'import numpy'])
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const rokHome = join(dir, 'rok')
  const engine = await openEngine({ home: rokHome, create: true })
  await engine.close()
  const env = { ...process.env, KALE_HOME: join(dir, 'kale-home'), KALE_PYTHON: python }
  const results: Record<string, number[]> = { plain: [], kale: [], 'kale fresh': [], 'kale+rok': [], 'tiny plain': [], 'tiny kale': [] }
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(results).map(k => [k, []]))
  const record = (variant: string, t: { wall: number, cpu: number }): void => { results[variant].push(t.wall); cpu[variant].push(t.cpu) }
  const loads: string[] = []
  const bigFiles = await prepare(big)
  const tinyFiles = await prepare(tiny)
  for (let r = 1; r <= runs; r++) {
    log(`run ${r}/${runs}`)
    loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '))
    record('plain', time(python, [bigFiles.script]))
    record('kale', time(process.execPath, [KALE, 'run', bigFiles.nb, '--no-snapshot', '--home', rokHome], env))
    record('kale fresh', time(process.execPath, [KALE, 'run', bigFiles.nb, '--no-snapshot', '--fresh-python', '--home', rokHome], env))
    if (!values['no-snapshot-variant']) record('kale+rok', time(process.execPath, [KALE, 'run', bigFiles.nb, '--home', rokHome], env))
    record('tiny plain', time(python, [tinyFiles.script]))
    record('tiny kale', time(process.execPath, [KALE, 'run', tinyFiles.nb, '--no-snapshot', '--home', rokHome], env))
    // Run folders hold every step's saved array; keep the disk from filling across runs.
    await rm(join(dir, 'kale-home'), { recursive: true, force: true })
  }
  loads.push(readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '))
  const m = Object.fromEntries(Object.entries(results).filter(([, v]) => v.length > 0).map(([k, v]) => [k, median(v)]))
  const c = Object.fromEntries(Object.entries(cpu).filter(([, v]) => v.length > 0).map(([k, v]) => [k, median(v)]))
  const ratio = m.kale / m.plain
  const fixedPerStep = (m['tiny kale'] - m['tiny plain']) / steps
  const perStep = (m.kale - m.plain) / steps
  const pythonVersion = execFileSync(python, ['--version'], { encoding: 'utf8' }).trim()
  const lines = [
    `${steps} steps, ${mib} MiB float64 array passed between steps, ${pythonVersion} (${python}), medians of ${runs} runs`,
    '',
    `load average at the start of each run and at the end: ${loads.join('; ')}`,
    '',
    '| variant | wall time (s) | CPU time (s) |',
    '|---|---:|---:|',
    ...Object.entries(m).map(([k, v]) => `| ${k} | ${v.toFixed(2)} | ${c[k].toFixed(2)} |`),
    '',
    `kale / plain: **${ratio.toFixed(2)}x** (target < 2x); in CPU time ${(c.kale / c.plain).toFixed(2)}x`,
    ...(m['kale+rok'] !== undefined ? [`kale with Rok step snapshots (the default when a Rok home exists) / plain: **${(m['kale+rok'] / m.plain).toFixed(2)}x**`] : []),
    `kale fresh (a new python3 per step) / plain: ${(m['kale fresh'] / m.plain).toFixed(2)}x`,
    `overhead per step with the array: ${perStep.toFixed(3)} s; fixed overhead per step (tiny): **${fixedPerStep.toFixed(3)} s** (target < 1 s)`,
    ...(m['kale+rok'] !== undefined ? [`Rok step snapshots add ${((m['kale+rok'] - m.kale) / steps).toFixed(3)} s per step (one snapshot each in a linear pipeline)`] : [])
  ]
  process.stdout.write(lines.join('\n') + '\n')
  await writeFile(join(dir, 'results.json'), JSON.stringify({ steps, mib, python: pythonVersion, runs: results, cpu, loads, medians: m, cpuMedians: c, ratio, ratioWithSnapshots: m['kale+rok'] / m.plain, fixedPerStep, perStep }, null, 2))
}

await main()
