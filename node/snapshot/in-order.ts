/**
 * Work started in order, finished concurrently, consumed in order: up to `limit` pieces
 * in flight; `push` waits for the oldest once the window is full and hands it to
 * `consume`. The first failure (in order) is raised; `settle` waits for everything still
 * in flight so that nothing runs on after the caller gave up.
 */
export class InOrder<T> {
  private readonly inFlight: Array<Promise<T>> = []
  private readonly limit: number
  private readonly consume: (item: T) => Promise<void>

  constructor (limit: number, consume: (item: T) => Promise<void>) {
    this.limit = limit
    this.consume = consume
  }

  async push (work: Promise<T>): Promise<void> {
    work.catch(() => {}) // raised in order by shift()
    this.inFlight.push(work)
    if (this.inFlight.length >= this.limit) await this.shift()
  }

  /** Nothing in flight: work handled now comes after everything pushed before. */
  get idle (): boolean {
    return this.inFlight.length === 0
  }

  /** Consume everything in flight, in order. */
  async drain (): Promise<void> {
    while (this.inFlight.length > 0) await this.shift()
  }

  /** Wait for all work in flight to end, whatever its outcome (after a failure). */
  async settle (): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0))
  }

  private async shift (): Promise<void> {
    const item = await this.inFlight[0]
    this.inFlight.shift()
    await this.consume(item)
  }
}
