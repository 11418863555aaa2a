import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { startMemoryLimit } from '../../node/memory-limit.ts'
import { join } from 'node:path'
import { initHome, metricsOf, runRok, startDaemon, waitFor } from '../sync/daemons.ts'
import { tempDir } from '../fixtures/seeded.ts'

test('above the memory limit, garbage is collected in full once the heap has grown, never below the limit or without growth', async () => {
  let rss = 100
  let heap = 0
  const limit = startMemoryLimit({ limitBytes: 200, growthBytes: 50, intervalMs: 5, rss: () => rss, heapUsed: () => heap })
  try {
    heap = 1000
    await sleep(40)
    assert.equal(limit.collections, 0, 'below the limit')
    rss = 300
    await sleep(40)
    assert.equal(limit.collections, 1, 'one collection, then the heap has not grown since')
    heap = 1030
    await sleep(40)
    assert.equal(limit.collections, 1, 'grown less than growthBytes')
    heap = 1060
    await sleep(40)
    assert.equal(limit.collections, 2)
  } finally { limit.stop() }
})

test('a real full collection frees unreachable memory', async () => {
  const limit = startMemoryLimit({ limitBytes: 0, growthBytes: 0, intervalMs: 5 })
  try {
    let garbage: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `item ${i}` }))
    const ref = new WeakRef(garbage)
    garbage = undefined
    const deadline = Date.now() + 5000
    while (ref.deref() !== undefined && Date.now() < deadline) await sleep(10)
    assert.equal(ref.deref(), undefined)
    assert.ok(limit.collections >= 1)
  } finally { limit.stop() }
})

test('rok node start --memory-limit takes a size of at least 64MB and says what it takes', async () => {
  for (const bad of ['lots', '256MB/s', '0']) {
    const r = await runRok(['node', 'start', '--home', '/nonexistent-rok-home', `--memory-limit=${bad}`])
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, new RegExp(`'${bad.replace('/', '\\/')}' is not a size: use e\\.g\\. 256MB or 1GiB`))
  }
  const low = await runRok(['node', 'start', '--home', '/nonexistent-rok-home', '--memory-limit', '32MB'])
  assert.equal(low.code, 2)
  assert.match(low.stderr, /--memory-limit 32MB is below 64MB/)
})

test('a node started with --memory-limit below what it holds collects, and counts it in its metrics', { timeout: 60_000 }, async () => {
  const [dir, cleanup] = await tempDir('rok-memory-limit-')
  const home = join(dir, 'a')
  await initHome(home)
  const node = await startDaemon(home, ['--memory-limit', '64MB'])
  try {
    await waitFor('a full collection', async () => (await metricsOf(node)).memory_limit_collections >= 1 ? true : undefined, 20_000)
  } finally {
    await node.stop()
    await cleanup()
  }
})
