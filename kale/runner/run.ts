/**
 * `kale run`: every step a separate python3 process, in dependency order, independent
 * branches in parallel, output streamed, the run recorded. With `from`, an earlier run's
 * saved values are reused for every step that neither is STEP nor depends on it, and
 * only STEP and its dependents run again.
 */
import { cp, mkdir, writeFile, readFile, rm } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { DEFAULT_PARALLEL } from '../constants.ts'
import { generateStepScript, type StepScript } from '../codegen/step.ts'
import { KaleErrorCode, kaleError } from '../errors.ts'
import { descendantsInclusive } from '../graph.ts'
import type { Pipeline, PipelineSpec } from '../model.ts'
import { resolvePython } from '../python.ts'
import { runData } from './publish.ts'
import { loadRun, newRunId, runPaths, saveRun, type RunPaths, type RunRecord, type SnapshotRef, type StepRecord } from './records.ts'
import { runDag } from './scheduler.ts'
import type { StepSnapshots } from './snapshots.ts'
import { runStepProcess } from './step-process.ts'
import { WarmPython, spawnStep, type Handoff, type StepLauncher } from './warm-python.ts'

export type RunEvent =
  | { type: 'run:start', run: RunRecord }
  | { type: 'step:start', step: string }
  | { type: 'step:output', step: string, stream: 'stdout' | 'stderr', line: string }
  | { type: 'step:end', step: string, status: StepRecord['status'], durationMs: number, error?: StepRecord['error'] }
  | { type: 'step:reused', step: string, from: string }
  | { type: 'step:snapshot', step: string, when: 'before' | 'after', ref: SnapshotRef }

export interface RunOptions {
  python: string
  /** Where runs are recorded (`KALE_HOME`, default ~/.kale). */
  kaleHome: string
  params: Record<string, string | number | boolean>
  /** Re-run from STEP of an earlier run, reusing its other steps' saved values. */
  from?: { run: string, step: string }
  /** Take a snapshot of the run's data folder before and after every step. */
  snapshots?: StepSnapshots
  parallel?: number
  /**
   * Start every step as a fresh `python3` instead of forking it from one warm
   * interpreter that has imported the pipeline's imports once (for libraries that do not
   * survive a fork). Fork needs Linux; elsewhere steps always start fresh. @default false
   */
  freshPython?: boolean
  /** How steps are started, when the caller already has a launcher (e.g. a warm interpreter it started early). */
  launch?: StepLauncher
  /** Stop a step that runs longer than this (ms). @default no limit */
  stepTimeoutMs?: number
  env?: NodeJS.ProcessEnv
  onEvent?: (e: RunEvent) => void
  signal?: AbortSignal
  /** Injected clock for records. */
  now?: () => Date
}

export async function runPipeline (pipeline: Pipeline, o: RunOptions): Promise<RunRecord> {
  const now = o.now ?? (() => new Date())
  const emit = o.onEvent ?? (() => {})
  const id = newRunId(now())
  const paths = runPaths(o.kaleHome, id)
  const started = performance.now()
  const cwd = dirname(resolve(pipeline.source))
  const env = o.env ?? process.env
  const warm = o.launch !== undefined ? undefined : startWarmPython(pipeline, o)
  warm?.catch(() => {})
  try {
    // A warm interpreter already knows its executable: no extra python3 start.
    const warmLaunch = o.launch ?? (await warm)?.launch
    const python = warmLaunch?.executable ?? await resolvePython(o.python, o.signal)
    const launch = warmLaunch ?? spawnStep(python, env)
    return await runSteps(pipeline, o, { id, paths, python, cwd, launch, now, emit, started })
  } finally {
    await (await warm?.catch(() => undefined))?.close()
  }
}

/**
 * The interpreter a run forks its steps from, importing the prelude's imports — or
 * undefined when steps start as fresh python3 processes (`freshPython`, or not Linux:
 * elsewhere system libraries do not survive fork). Start it as soon as the notebook is
 * read, so the imports load while it is analysed; pass its `launch` to runPipeline and
 * close it after.
 */
export function startWarmPython (spec: Pick<PipelineSpec, 'source' | 'prelude'>, o: Pick<RunOptions, 'python' | 'env' | 'freshPython'>): Promise<WarmPython> | undefined {
  if (o.freshPython === true || process.platform !== 'linux') return undefined
  return WarmPython.start({ python: o.python, cwd: dirname(resolve(spec.source)), env: o.env ?? process.env, prelude: spec.prelude.map(c => c.code) })
}

interface RunContext {
  id: string
  paths: RunPaths
  python: string
  cwd: string
  launch: StepLauncher
  now: () => Date
  emit: (e: RunEvent) => void
  started: number
}

async function runSteps (pipeline: Pipeline, o: RunOptions, { id, paths, python, cwd, launch, now, emit, started }: RunContext): Promise<RunRecord> {
  const run: RunRecord = {
    id,
    pipeline: pipeline.name,
    source: resolve(pipeline.source),
    kind: pipeline.kind,
    python,
    status: 'running',
    startedAt: now().toISOString(),
    params: o.params,
    from: o.from,
    steps: pipeline.steps.map(s => ({ name: s.name, prev: s.prev, status: 'pending', outputs: s.outputs })),
    metrics: {},
    snapshotBucket: o.snapshots?.bucket
  }
  await mkdir(paths.data, { recursive: true })
  await mkdir(paths.pending, { recursive: true })
  await mkdir(paths.scripts, { recursive: true })
  await mkdir(paths.logs, { recursive: true })
  const reused = o.from !== undefined ? await reuseEarlierRun(pipeline, run, o) : new Set<string>()
  await saveRun(o.kaleHome, run)
  emit({ type: 'run:start', run })
  for (const s of run.steps) if (s.status === 'reused') emit({ type: 'step:reused', step: s.name, from: s.reusedFrom! })

  const record = (name: string): StepRecord => run.steps.find(s => s.name === name)!
  // Records are saved after each step; chain the writes so they land in order.
  let saving: Promise<void> = Promise.resolve()
  const persist = (): Promise<void> => (saving = saving.then(async () => await saveRun(o.kaleHome, run)))
  const data = runData({ data: paths.data, pending: paths.pending, snapshots: o.snapshots, runId: id, signal: o.signal })
  // A failed snapshot stops the run like a failed step: nothing new starts.
  const stop = new AbortController()
  const snapshotted = (name: string, when: 'before' | 'after', ref: SnapshotRef | undefined): void => {
    if (ref === undefined) return
    const rec = record(name)
    rec.snapshots = when === 'before' ? { before: ref, ...rec.snapshots } : { ...rec.snapshots, after: ref }
    emit({ type: 'step:snapshot', step: name, when, ref })
  }
  const snapshotFailed = (name: string, err: Error): void => {
    // An interrupted run cuts its snapshots short; its steps say why it stopped.
    if (o.signal?.aborted === true) return
    const rec = record(name)
    rec.status = 'failed'
    rec.error = { message: `step '${name}': ${err.message}`, traceback: '' }
    stop.abort()
    emit({ type: 'step:end', step: name, status: rec.status, durationMs: rec.durationMs ?? 0, error: rec.error })
    void persist()
  }

  // Linear chains: a step forked from the one before it (see chainSuccessors).
  const successors = o.snapshots === undefined ? chainSuccessors(pipeline, reused) : new Map<string, string>()
  const outcomes = new Map<string, Promise<'succeeded' | 'failed'>>()
  const cancelChained = new Map<string, AbortController>()
  let anyFailed = false

  const written = new Map<string, Promise<{ script: StepScript, scriptPath: string }>>()
  const writeScript = (name: string): Promise<{ script: StepScript, scriptPath: string }> => {
    let w = written.get(name)
    if (w === undefined) {
      const script = generateStepScript(pipeline, pipeline.steps.find(s => s.name === name)!)
      // Not importable (a step name cannot hold '-'): the script's folder is first on the
      // step's sys.path, where `json.py` for a step `json` would shadow the json module.
      const scriptPath = join(paths.scripts, `step-${name}.py`)
      w = writeFile(scriptPath, script.code).then(() => ({ script, scriptPath }))
      written.set(name, w)
    }
    return w
  }

  const runOne = async (name: string, fork?: Handoff): Promise<'succeeded' | 'failed'> => {
    const step = pipeline.steps.find(s => s.name === name)!
    const rec = record(name)
    const next = successors.get(name)
    const onHandoff = next === undefined
      ? undefined
      : (offer: Handoff): void => {
          if (anyFailed || signal.aborted) { offer.decline(); return }
          const cancel = new AbortController()
          cancelChained.set(next, cancel)
          settle(next, runOne(next, offer)).catch(() => {})
        }
    // The successor's script is written now, off the hand-off's path.
    if (next !== undefined) writeScript(next).catch(() => {})
    const { script, scriptPath } = await writeScript(name)
    const metricsFile = join(paths.dir, 'metrics.json')
    const args = ['--output', join(paths.pending, name)]
    for (const producer of new Set(step.inputs.map(i => i.from))) args.push('--input', `${producer}=${join(paths.data, producer)}`)
    for (const p of step.parameters) args.push('--param', `${p}=${String(o.params[p])}`)
    if (step.metrics.length > 0) args.push('--metrics-json', metricsFile)

    // The version of the data folder this step starts from (taken in the background).
    data.current().then(ref => { snapshotted(name, 'before', ref) }, err => { snapshotFailed(name, err as Error) })
    rec.status = 'running'
    rec.startedAt = now().toISOString()
    emit({ type: 'step:start', step: name })
    const t0 = performance.now()
    const deadline = o.stepTimeoutMs !== undefined ? AbortSignal.timeout(o.stepTimeoutMs) : undefined
    const cancelled = cancelChained.get(name)?.signal
    const signals = [o.signal, deadline, cancelled].filter((x): x is AbortSignal => x !== undefined)
    // A forked successor counts only if the step before it succeeds, saves included.
    const before = fork !== undefined ? outcomes.get(step.prev[0]) : undefined
    const skipped = async (): Promise<'failed'> => {
      rec.status = 'skipped'
      rec.error = undefined
      emit({ type: 'step:end', step: name, status: rec.status, durationMs: rec.durationMs ?? 0 })
      await persist()
      return 'failed'
    }
    let result: Awaited<ReturnType<typeof runStepProcess>>
    try {
      result = await runStepProcess({
        launch: fork?.fork ?? launch,
        onHandoff,
        script: scriptPath,
        args,
        cwd,
        logFile: join(paths.logs, `${name}.log`),
        lineMap: script.lineMap,
        sourceName: basename(pipeline.source),
        onLine: (stream, line) => emit({ type: 'step:output', step: name, stream, line }),
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined
      })
    } catch (err) {
      // Interrupted (the process was killed) or python3 could not be started.
      rec.durationMs = Math.round(performance.now() - t0)
      if (before !== undefined && await before !== 'succeeded') return await skipped()
      rec.status = 'failed'
      const why = o.signal?.aborted === true
        ? 'was interrupted'
        : deadline?.aborted === true
          ? `was stopped after its time limit of ${(o.stepTimeoutMs! / 1000).toString()} s`
          : `could not run: ${(err as Error).message}`
      rec.error = { message: `step '${name}' ${why}`, traceback: '' }
      emit({ type: 'step:end', step: name, status: rec.status, durationMs: rec.durationMs, error: rec.error })
      await persist()
      return 'failed'
    }
    rec.durationMs = Math.round(performance.now() - t0)
    if (before !== undefined && await before !== 'succeeded') return await skipped()
    rec.exitCode = result.exitCode
    rec.status = result.exitCode === 0 ? 'succeeded' : 'failed'
    if (rec.status === 'failed') {
      const lastLine = result.stderrTail.trimEnd().split('\n').pop() ?? ''
      const at = result.failedAt
      const where = at !== undefined ? ` at ${basename(pipeline.source)}, ${at.cell !== undefined ? `cell ${at.cell}, ` : ''}line ${at.line}` : ''
      rec.error = {
        message: `step '${name}' failed${where}: ${lastLine.replace(/^kale: /, '') || `exit code ${String(result.exitCode)}`}`,
        cell: at?.cell,
        line: at?.line,
        traceback: result.stderrTail
      }
    } else {
      if (step.metrics.length > 0) run.metrics = JSON.parse(await readFile(metricsFile, 'utf8')) as Record<string, number>
      // Later steps may start once the values are in data/; the snapshot goes on meanwhile.
      const { published, after } = data.publish(name)
      after.then(ref => { snapshotted(name, 'after', ref); void persist() }, err => { snapshotFailed(name, err as Error) })
      await published
    }
    emit({ type: 'step:end', step: name, status: rec.status, durationMs: rec.durationMs, error: rec.error })
    await persist()
    return rec.status
  }

  const settle = (name: string, p: Promise<'succeeded' | 'failed'>): Promise<'succeeded' | 'failed'> => {
    const outcome = p.then(r => {
      if (r === 'failed') {
        anyFailed = true
        // Its forked successor must not count: stop it.
        const next = successors.get(name)
        if (next !== undefined) cancelChained.get(next)?.abort()
      }
      return r
    }, (err: unknown) => { anyFailed = true; throw err })
    outcomes.set(name, outcome)
    return outcome
  }
  const signal = AbortSignal.any([stop.signal, ...(o.signal !== undefined ? [o.signal] : [])])
  const outcome = await runDag(pipeline.steps, name => outcomes.get(name) ?? settle(name, runOne(name)), { parallel: o.parallel ?? DEFAULT_PARALLEL, done: reused, signal })
  // Successors forked from a step that then failed are not in runDag's outcome.
  await Promise.allSettled(outcomes.values())
  await data.settled()
  for (const [name, result] of outcome) {
    const rec = record(name)
    if (result === 'skipped' && rec.status === 'pending') rec.status = 'skipped'
    else if (rec.status === 'running' || rec.status === 'pending') rec.status = 'failed'
  }
  run.status = run.steps.every(s => s.status === 'succeeded' || s.status === 'reused') ? 'succeeded' : 'failed'
  run.finishedAt = now().toISOString()
  run.durationMs = Math.round(performance.now() - started)
  await saving
  await saveRun(o.kaleHome, run)
  return run
}

/**
 * Take over an earlier run's saved values for every step outside STEP and its
 * dependents. With snapshots, the earlier run's last snapshot is restored (it holds
 * every value saved before and beside STEP); otherwise the saved folders are copied.
 */
async function reuseEarlierRun (pipeline: Pipeline, run: RunRecord, o: RunOptions): Promise<Set<string>> {
  const from = o.from!
  const earlier = await loadRun(o.kaleHome, from.run)
  if (!pipeline.steps.some(s => s.name === from.step)) {
    throw kaleError(KaleErrorCode.UNKNOWN_STEP, `--from ${from.step}: the pipeline has no step '${from.step}' (steps: ${pipeline.order.join(', ')})`, { details: { step: from.step } })
  }
  if (earlier.pipeline !== pipeline.name) {
    throw kaleError(KaleErrorCode.RUN_NOT_FOUND, `run ${earlier.id} is of pipeline '${earlier.pipeline}', not '${pipeline.name}'`, { details: { run: earlier.id } })
  }
  // A step is reused only if it succeeded before and saved every value the pipeline now
  // needs from it (an edited step may read a new name); otherwise it runs again, and so
  // does everything after it.
  const rerun = descendantsInclusive(pipeline.steps, from.step)
  const saved = new Map(earlier.steps.filter(s => s.status === 'succeeded' || s.status === 'reused').map(s => [s.name, new Set(s.outputs)]))
  for (const step of pipeline.steps) {
    if (rerun.has(step.name)) continue
    const had = saved.get(step.name)
    if (had === undefined || !step.outputs.every(o => had.has(o))) {
      for (const d of descendantsInclusive(pipeline.steps, step.name)) rerun.add(d)
    }
  }
  const reuse = new Set(pipeline.steps.map(s => s.name).filter(n => !rerun.has(n)))
  const paths = runPaths(o.kaleHome, run.id)
  const earlierPaths = runPaths(o.kaleHome, earlier.id)
  const latest = latestSnapshot(earlier)
  if (o.snapshots !== undefined && latest !== undefined) {
    await o.snapshots.restore(latest, paths.data, o.signal)
    run.from = { ...from, restored: latest }
    for (const s of pipeline.steps) {
      if (!reuse.has(s.name)) await rm(join(paths.data, s.name), { recursive: true, force: true })
    }
  } else {
    for (const name of reuse) {
      const src = join(earlierPaths.data, name)
      const outputs = earlier.steps.find(s => s.name === name)?.outputs ?? []
      if (outputs.length === 0) continue
      try {
        await cp(src, join(paths.data, name), { recursive: true, errorOnExist: false })
      } catch (cause) {
        throw kaleError(KaleErrorCode.MISSING_STEP_DATA, `cannot reuse step '${name}' of run ${earlier.id}: its saved values in ${src} are gone; run the whole pipeline again`, { cause, details: { run: earlier.id, step: name } })
      }
    }
  }
  for (const name of reuse) {
    const rec = run.steps.find(s => s.name === name)!
    const old = earlier.steps.find(s => s.name === name)!
    rec.status = 'reused'
    rec.reusedFrom = old.reusedFrom ?? earlier.id
    rec.snapshots = old.snapshots
    rec.durationMs = 0
  }
  if (reuse.has('pipeline_metrics')) run.metrics = earlier.metrics
  return reuse
}

/**
 * Which step forks from which: B from A when A is B's only `prev` and every value B
 * loads comes from A, both running in this run. One successor per step (a step's other
 * dependents load its saved values as usual). Not with snapshots: there a step's
 * "before" version must already hold the step it follows.
 */
export function chainSuccessors (pipeline: Pick<Pipeline, 'steps'>, reused: Set<string>): Map<string, string> {
  const next = new Map<string, string>()
  for (const b of pipeline.steps) {
    if (b.prev.length !== 1 || b.inputs.length === 0 || reused.has(b.name)) continue
    const a = b.prev[0]
    if (reused.has(a) || next.has(a) || !b.inputs.every(i => i.from === a)) continue
    next.set(a, b.name)
  }
  return next
}

function latestSnapshot (run: RunRecord): SnapshotRef | undefined {
  let best: SnapshotRef | undefined
  for (const s of run.steps) {
    for (const ref of [s.snapshots?.before, s.snapshots?.after]) {
      if (ref !== undefined && ref.bucket === run.snapshotBucket && (best === undefined || ref.seq > best.seq)) best = ref
    }
  }
  return best
}
