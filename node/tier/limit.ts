/** A bounded set of tasks in flight: `run` waits for a free slot; the first failure is kept and raised. */
export class TaskSlots {
  private readonly max: number
  private readonly running = new Set<Promise<void>>()
  private failure: { error: unknown } | undefined

  constructor (max: number) {
    this.max = Math.max(1, max)
  }

  /** Start `task` once fewer than `max` run; throws an earlier task's failure instead. */
  async run (task: () => Promise<void>): Promise<void> {
    this.raise()
    while (this.running.size >= this.max) {
      await Promise.race(this.running)
      this.raise()
    }
    const p: Promise<void> = task().catch((error: unknown) => { this.failure ??= { error } }).finally(() => { this.running.delete(p) })
    this.running.add(p)
  }

  /** Wait for every task; throws the first failure. */
  async drain (): Promise<void> {
    while (this.running.size > 0) await Promise.race(this.running)
    this.raise()
  }

  private raise (): void {
    if (this.failure !== undefined) throw this.failure.error
  }
}

/** `fn` over `items` with at most `limit` at once, results in order. */
export async function mapLimit<T, R> (items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  const slots = new TaskSlots(limit)
  for (const [i, item] of items.entries()) await slots.run(async () => { out[i] = await fn(item, i) })
  await slots.drain()
  return out
}
