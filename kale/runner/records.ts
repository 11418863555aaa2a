/**
 * Run records on disk: `<kaleHome>/runs/<id>/run.json` beside the run's step scripts,
 * logs and saved step data (`data/<step>/<name>.<format>`). Records are rewritten
 * atomically (temp file + rename) after every step, so a crash leaves the last good one.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { KaleErrorCode, kaleError } from '../errors.ts'

export interface SnapshotRef {
  bucket: string
  seq: number
  cid: string
}

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'reused'

export interface StepRecord {
  name: string
  prev: string[]
  status: StepStatus
  startedAt?: string
  durationMs?: number
  exitCode?: number | null
  /** Values this step saved for later steps. */
  outputs: string[]
  /** For reused steps: the run whose saved data this run took over. */
  reusedFrom?: string
  error?: { message: string, cell?: number, line?: number, traceback: string }
  snapshots?: { before?: SnapshotRef, after?: SnapshotRef }
}

export interface RunRecord {
  id: string
  pipeline: string
  source: string
  kind: 'notebook' | 'sdk'
  /** The interpreter every step ran with (its real executable). */
  python: string
  status: 'running' | 'succeeded' | 'failed'
  startedAt: string
  finishedAt?: string
  durationMs?: number
  params: Record<string, string | number | boolean>
  /**
   * Set by `--from STEP --run RUN`. `restored` is the snapshot of RUN that seeded this
   * run's data folder; without it the saved values were copied from RUN's folder.
   */
  from?: { run: string, step: string, restored?: SnapshotRef }
  steps: StepRecord[]
  metrics: Record<string, number>
  /** Rok bucket holding this run's step snapshots, when snapshots were on. */
  snapshotBucket?: string
}

export interface RunPaths {
  dir: string
  record: string
  data: string
  /** Values of steps still running (moved into `data` when a step succeeds). */
  pending: string
  scripts: string
  logs: string
}

const RUN_ID = /^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/

export function newRunId (now = new Date()): string {
  const iso = now.toISOString()
  return `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 19).replaceAll(':', '')}-${randomBytes(3).toString('hex')}`
}

export function runPaths (kaleHome: string, id: string): RunPaths {
  if (!RUN_ID.test(id)) throw kaleError(KaleErrorCode.RUN_NOT_FOUND, `'${id}' is not a run id (they look like 20261128-150102-a1b2c3; see 'kale runs')`, { details: { run: id } })
  const dir = join(kaleHome, 'runs', id)
  return { dir, record: join(dir, 'run.json'), data: join(dir, 'data'), pending: join(dir, 'pending'), scripts: join(dir, 'steps'), logs: join(dir, 'logs') }
}

export async function saveRun (kaleHome: string, run: RunRecord): Promise<void> {
  const p = runPaths(kaleHome, run.id)
  await mkdir(p.dir, { recursive: true })
  const tmp = `${p.record}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(run, null, 2) + '\n')
  await rename(tmp, p.record)
}

export async function loadRun (kaleHome: string, id: string): Promise<RunRecord> {
  const p = runPaths(kaleHome, id)
  try {
    return JSON.parse(await readFile(p.record, 'utf8')) as RunRecord
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') throw kaleError(KaleErrorCode.RUN_NOT_FOUND, `no run '${id}' in ${join(kaleHome, 'runs')} (see 'kale runs')`, { details: { run: id } })
    throw kaleError(KaleErrorCode.RUN_NOT_FOUND, `run '${id}' has an unreadable record`, { cause, details: { run: id } })
  }
}

/** All runs, newest first. */
export async function listRuns (kaleHome: string): Promise<RunRecord[]> {
  let ids: string[]
  try {
    ids = (await readdir(join(kaleHome, 'runs'))).filter(id => RUN_ID.test(id))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const runs: RunRecord[] = []
  for (const id of ids.sort().reverse()) {
    try { runs.push(await loadRun(kaleHome, id)) } catch { /* a run being created right now */ }
  }
  return runs
}
