import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startIdleCollector } from '../../node/idle-collect.ts'

const MiB = 1024 * 1024
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** A heap whose size the test sets, collected down to `live` by the collector. */
function fakeHeap (live: number): { held: () => number, grow: (n: number) => void, collect: () => void, collections: () => number } {
  let size = live
  let collections = 0
  return { held: () => size, grow: n => { size += n }, collect: () => { collections++; size = live }, collections: () => collections }
}

test('a quiet process whose heap grew after work gets one collection, and none while it keeps quiet', async () => {
  const heap = fakeHeap(40 * MiB)
  const collector = startIdleCollector({ collect: heap.collect, heldBytes: heap.held, intervalMs: 100, minGrowthBytes: 8 * MiB })
  try {
    heap.grow(4 * MiB)
    await sleep(350)
    assert.equal(heap.collections(), 0, 'grown less than the threshold')
    heap.grow(16 * MiB)
    await sleep(350)
    assert.equal(heap.collections(), 1)
    assert.equal(collector.collections, 1)
    await sleep(300)
    assert.equal(heap.collections(), 1, 'nothing grew since: no second collection')
  } finally {
    collector.stop()
  }
})

test('a busy process is not collected however much its heap grew', async () => {
  const heap = fakeHeap(40 * MiB)
  const collector = startIdleCollector({ collect: heap.collect, heldBytes: heap.held, intervalMs: 100, minGrowthBytes: MiB })
  try {
    const until = Date.now() + 450
    while (Date.now() < until) {
      heap.grow(MiB)
      // the event loop turns (the collector gets to look) but stays busy most of the time
      const spin = Date.now() + 20
      while (Date.now() < spin) {}
      await new Promise(resolve => setImmediate(resolve))
    }
    assert.equal(heap.collections(), 0)
  } finally {
    collector.stop()
  }
})

test('the end of a long piece of work collects at once what it grew, and nothing when it grew nothing', () => {
  const heap = fakeHeap(40 * MiB)
  const collector = startIdleCollector({ collect: heap.collect, heldBytes: heap.held, intervalMs: 60_000, minGrowthBytes: 8 * MiB })
  try {
    collector.afterWork()
    assert.equal(heap.collections(), 0)
    heap.grow(16 * MiB)
    collector.afterWork()
    assert.equal(heap.collections(), 1)
    collector.afterWork()
    assert.equal(heap.collections(), 1)
  } finally {
    collector.stop()
  }
})
