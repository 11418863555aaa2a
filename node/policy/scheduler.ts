/**
 * Runs bucket schedules inside the node daemon. The decision is pure (`dueNow`,
 * `nextWake`); the runner only keeps a timer. A schedule's last run is stored in the
 * home, so a daemon that was down through one or more firings runs the bucket once at
 * start (not once per missed firing), then follows the schedule again.
 */
import { nextFire, parseCron } from './cron.ts'
import type { BucketPolicy, PolicyStore } from './policies.ts'

/** Whether a schedule last run at `lastRun` (or set up at `since`) has a firing due by `now`. */
export function dueNow (schedule: string, lastRun: number | undefined, since: number, now: number): boolean {
  const next = nextFire(parseCron(schedule), lastRun ?? since)
  return next !== undefined && next <= now
}

/** When the next of these schedules fires after `now`, or undefined. */
export function nextWake (schedules: Array<{ schedule: string, lastRun: number | undefined, since: number }>, now: number): number | undefined {
  let soonest: number | undefined
  for (const s of schedules) {
    const next = nextFire(parseCron(s.schedule), Math.max(s.lastRun ?? s.since, now))
    if (next !== undefined && (soonest === undefined || next < soonest)) soonest = next
  }
  return soonest
}

export interface SchedulerInit {
  policies: Pick<PolicyStore, 'list' | 'lastRun' | 'setLastRun'>
  /** Take the scheduled snapshot (and apply retention) for a policy. */
  run: (policy: BucketPolicy, signal: AbortSignal) => Promise<void>
  now?: () => number
  log?: (message: string) => void
  /** Look at the policies at least this often (they change through the API). @default 60 s */
  recheckMs?: number
}

export class PolicyScheduler {
  private readonly init: SchedulerInit
  private readonly now: () => number
  private timer: NodeJS.Timeout | undefined
  private readonly running = new Set<string>()
  private readonly controller = new AbortController()
  private readonly inflight = new Set<Promise<void>>()
  private stopped = false

  constructor (init: SchedulerInit) {
    this.init = init
    this.now = init.now ?? Date.now
  }

  start (): void { void this.tick() }

  /** Look again now (a policy was set or removed). */
  poke (): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    void this.tick()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.controller.abort()
    await Promise.allSettled([...this.inflight])
  }

  /** Start every due run; returns once they are started (tests await `idle()`). */
  async tick (): Promise<void> {
    if (this.stopped) return
    const now = this.now()
    const schedules: Array<{ schedule: string, lastRun: number | undefined, since: number }> = []
    try {
      for (const policy of await this.init.policies.list()) {
        if (policy.schedule === undefined) continue
        const lastRun = await this.init.policies.lastRun(policy.bucket)
        schedules.push({ schedule: policy.schedule, lastRun, since: policy.updatedAt })
        if (this.running.has(policy.bucket) || !dueNow(policy.schedule, lastRun, policy.updatedAt, now)) continue
        this.running.add(policy.bucket)
        const run = this.runOne(policy, now).finally(() => { this.running.delete(policy.bucket); this.inflight.delete(run) })
        this.inflight.add(run)
      }
    } catch (err) {
      this.init.log?.(`scheduler: ${(err as Error).message}`)
    }
    if (this.stopped) return
    const wake = nextWake(schedules, now)
    const recheck = this.init.recheckMs ?? 60_000
    const delay = Math.max(0, Math.min(recheck, (wake ?? Infinity) - this.now()))
    clearTimeout(this.timer)
    this.timer = setTimeout(() => { void this.tick() }, delay)
    this.timer.unref()
  }

  async idle (): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight])
  }

  private async runOne (policy: BucketPolicy, firedAt: number): Promise<void> {
    try {
      await this.init.run(policy, this.controller.signal)
    } catch (err) {
      if (!this.stopped) this.init.log?.(`scheduled snapshot of ${policy.bucket} failed: ${(err as Error).message}`)
    }
    // Recorded after the attempt: a crash mid-run reruns it at start; a failing run waits for the next firing.
    if (!this.stopped) await this.init.policies.setLastRun(policy.bucket, firedAt)
  }
}
