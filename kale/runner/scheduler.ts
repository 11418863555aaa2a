/**
 * Runs a DAG of jobs: each starts as soon as all of its `prev` succeeded, at most
 * `parallel` at once. After a failure nothing new starts (running jobs finish) and the
 * jobs that never started are reported as skipped. Knows nothing about Python.
 */

export type JobOutcome = 'succeeded' | 'failed'

export interface Job {
  name: string
  prev: string[]
}

export interface ScheduleOptions {
  parallel: number
  /** Jobs already satisfied (e.g. reused from an earlier run): treated as succeeded. */
  done?: Set<string>
  signal?: AbortSignal
}

export async function runDag (jobs: Job[], run: (name: string) => Promise<JobOutcome>, opts: ScheduleOptions): Promise<Map<string, JobOutcome | 'skipped'>> {
  const outcome = new Map<string, JobOutcome | 'skipped'>()
  for (const d of opts.done ?? []) outcome.set(d, 'succeeded')
  const pending = jobs.filter(j => !outcome.has(j.name))
  const running = new Map<string, Promise<void>>()
  let failed = false
  while (true) {
    if (!failed && opts.signal?.aborted !== true) {
      for (const job of [...pending]) {
        if (running.size >= opts.parallel) break
        if (!job.prev.every(p => outcome.get(p) === 'succeeded')) continue
        pending.splice(pending.indexOf(job), 1)
        running.set(job.name, run(job.name).then(
          r => { outcome.set(job.name, r); if (r === 'failed') failed = true },
          () => { outcome.set(job.name, 'failed'); failed = true }
        ).finally(() => running.delete(job.name)))
      }
    }
    if (running.size === 0) break
    await Promise.race(running.values())
  }
  for (const job of pending) outcome.set(job.name, 'skipped')
  return outcome
}
