import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startIdleCollector } from '../../node/idle-collect.ts'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

test('a quiet process whose heap grew after work gets one collection, and none while it keeps quiet', async () => {
  let calls = 0
  const collector = startIdleCollector({ collect: () => { calls++ }, intervalMs: 100, minGrowthBytes: 4 * 1024 * 1024 })
  try {
    // work that leaves ~16 MB on the heap (held here, so no collection of V8's own can undo it)
    const left = Array.from({ length: 16 }, (_, i) => new Array(128 * 1024).fill(i))
    await sleep(450)
    assert.equal(calls, 1)
    assert.equal(collector.collections, 1)
    await sleep(300)
    assert.equal(calls, 1, 'nothing grew since: no second collection')
    assert.equal(left.length, 16)
  } finally {
    collector.stop()
  }
})

test('a busy process is not collected however much its heap grew', async () => {
  let calls = 0
  const collector = startIdleCollector({ collect: () => { calls++ }, intervalMs: 100, minGrowthBytes: 1024 * 1024 })
  try {
    const held: number[][] = []
    const until = Date.now() + 450
    while (Date.now() < until) {
      held.push(new Array(64 * 1024).fill(1))
      // the event loop turns (the collector gets to look) but stays busy most of the time
      const spin = Date.now() + 20
      while (Date.now() < spin) {}
      await new Promise(resolve => setImmediate(resolve))
    }
    assert.equal(calls, 0)
    assert.ok(held.length > 0)
  } finally {
    collector.stop()
  }
})
