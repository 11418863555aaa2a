import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Level } from 'level'
import { PolicyStore } from '../../node/policy/policies.ts'
import { PolicyScheduler, dueNow, nextWake } from '../../node/policy/scheduler.ts'
import { pathFilter } from '../../node/policy/glob.ts'
import type { KeyValue } from '../../node/sync/kv.ts'
import { tempDir } from '../fixtures/seeded.ts'

const T = Date.parse('2026-05-01T00:00:00Z')
const H = 3_600_000

test('a schedule is due once per firing, and a long outage makes it due once, not once per missed firing', () => {
  // set up at T, daily at 03:00
  assert.equal(dueNow('0 3 * * *', undefined, T, T + 2 * H), false)
  assert.equal(dueNow('0 3 * * *', undefined, T, T + 3 * H), true)
  // ran at 03:00; due again only at the next 03:00
  assert.equal(dueNow('0 3 * * *', T + 3 * H, T, T + 26 * H), false)
  assert.equal(dueNow('0 3 * * *', T + 3 * H, T, T + 27 * H), true)
  assert.equal(nextWake([{ schedule: '0 3 * * *', lastRun: T + 3 * H, since: T }, { schedule: '30 * * * *', lastRun: undefined, since: T }], T + 4 * H), T + 4 * H + 30 * 60_000)
})

test('the scheduler runs due policies on a fake clock, takes a missed run once after a restart, and records the run', async () => {
  const [dir, cleanup] = await tempDir()
  const db = new Level<string, string>(join(dir, 'db'))
  const policies = new PolicyStore(db.sublevel<string, string>('policies', {}) as unknown as KeyValue)
  try {
    await policies.set({ bucket: 'acme/a', schedule: '0 * * * *', path: '/data/a', updatedAt: T })
    await policies.set({ bucket: 'acme/b', schedule: '0 3 * * *', path: '/data/b', updatedAt: T })
    await policies.set({ bucket: 'acme/c', path: '/data/c', updatedAt: T })
    const clock = { now: T + 30 * 60_000 }
    const runs: string[] = []
    const start = (): PolicyScheduler => new PolicyScheduler({ policies, now: () => clock.now, run: async p => { runs.push(`${p.bucket}@${new Date(clock.now).toISOString().slice(11, 16)}`) } })

    let s = start()
    await s.tick(); await s.idle()
    assert.deepEqual(runs, [], 'nothing due at 00:30')
    clock.now = T + H
    await s.tick(); await s.idle()
    assert.deepEqual(runs, ['acme/a@01:00'])
    await s.tick(); await s.idle()
    assert.equal(runs.length, 1, 'not twice for one firing')
    await s.stop()

    // down from 01:00 to 10:15: 9 hourly firings and the 03:00 one missed
    clock.now = T + 10 * H + 15 * 60_000
    s = start()
    await s.tick(); await s.idle()
    assert.deepEqual(runs.slice(1).sort(), ['acme/a@10:15', 'acme/b@10:15'], 'each missed schedule runs once at start')
    assert.equal(await policies.lastRun('acme/a'), clock.now)
    clock.now = T + 11 * H
    await s.tick(); await s.idle()
    assert.deepEqual(runs.slice(3), ['acme/a@11:00'])
    await s.stop()
  } finally {
    await db.close()
    await cleanup()
  }
})

test('a failed run is logged and waits for the next firing instead of looping', async () => {
  const [dir, cleanup] = await tempDir()
  const db = new Level<string, string>(join(dir, 'db'))
  const policies = new PolicyStore(db.sublevel<string, string>('policies', {}) as unknown as KeyValue)
  try {
    await policies.set({ bucket: 'acme/a', schedule: '0 * * * *', path: '/data/a', updatedAt: T })
    const clock = { now: T + H }
    const logs: string[] = []
    let attempts = 0
    const s = new PolicyScheduler({ policies, now: () => clock.now, log: m => logs.push(m), run: async () => { attempts++; throw new Error('disk on fire') } })
    await s.tick(); await s.idle()
    await s.tick(); await s.idle()
    assert.equal(attempts, 1)
    assert.match(logs[0], /scheduled snapshot of acme\/a failed: disk on fire/)
    await s.stop()
  } finally {
    await db.close()
    await cleanup()
  }
})

test('policies are validated: schedule needs a path, globs and groups are checked', async () => {
  const [dir, cleanup] = await tempDir()
  const db = new Level<string, string>(join(dir, 'db'))
  const policies = new PolicyStore(db.sublevel<string, string>('policies', {}) as unknown as KeyValue)
  try {
    await assert.rejects(policies.set({ bucket: 'acme/a', schedule: '0 * * * *', updatedAt: T }), /needs the path/)
    await assert.rejects(policies.set({ bucket: 'acme/a', schedule: '0 * * *', path: '/x', updatedAt: T }), { code: 'ERR_BAD_CRON' })
    await assert.rejects(policies.set({ bucket: 'acme/a', path: 'relative/x', updatedAt: T }), /absolute path/)
    await assert.rejects(policies.set({ bucket: 'acme/a', exclude: ['[abc'], updatedAt: T }), /without its "]"/)
    await assert.rejects(policies.set({ bucket: 'acme/a', shareWith: ['Not A Group'], updatedAt: T }), /not a group name/)
    await assert.rejects(policies.set({ bucket: 'Acme', updatedAt: T }), { code: 'ERR_INVALID_BUCKET_NAME' })
    await policies.pin('acme/a', 3, true)
    await policies.pin('acme/a', 12, true)
    await policies.pin('acme/ab', 1, true)
    assert.deepEqual([...await policies.pins('acme/a')].sort((a, b) => a - b), [3, 12])
    await policies.pin('acme/a', 3, false)
    assert.deepEqual([...await policies.pins('acme/a')], [12])
  } finally {
    await db.close()
    await cleanup()
  }
})

test('include/exclude globs', () => {
  const f = pathFilter(['*.parquet', 'meta/**'], ['tmp', '**/*.ckpt.partial', '/cache/*'])!
  assert.equal(f('data/part-0.parquet', false), true, 'a name glob matches at any depth')
  assert.equal(f('data/part-0.csv', false), false, 'not included')
  assert.equal(f('data', true), true, 'folders are entered')
  assert.equal(f('a/tmp', true), false, 'an excluded folder is skipped whole')
  assert.equal(f('meta/x/y.json', false), true)
  assert.equal(f('run/1.ckpt.partial', false), false)
  assert.equal(f('cache/x.parquet', false), false, 'anchored glob')
  assert.equal(f('a/cache/x.parquet', false), true)
  assert.equal(pathFilter([], []), undefined)
})

test('a scheduled run publishes or snapshots, shares with the policy groups, then applies retention; a failing share is logged, not fatal', async () => {
  const { scheduledRun } = await import('../../node/policy/run.ts')
  const calls: string[] = []
  const signal = new AbortController().signal
  const run = scheduledRun({
    snapshot: async (path, bucket) => { calls.push(`snapshot ${bucket} ${path}`) },
    publish: async (path, bucket) => { calls.push(`publish ${bucket} ${path}`) },
    share: async (bucket, groups) => { calls.push(`share ${bucket} ${groups.join(',')}`); throw new Error('registry down') },
    forget: async bucket => { calls.push(`forget ${bucket}`) },
    log: m => calls.push(`log ${m}`)
  })
  await run({ bucket: 'acme/a', schedule: '@daily', path: '/d', publish: true, shareWith: ['ml', 'ops'], retention: { keepLast: 3 }, updatedAt: T }, signal)
  await run({ bucket: 'acme/b', schedule: '@daily', path: '/e', updatedAt: T }, signal)
  assert.deepEqual(calls, [
    'publish acme/a /d', 'share acme/a ml,ops', 'log sharing acme/a with ml, ops: registry down', 'forget acme/a',
    'snapshot acme/b /e'
  ])
  const noHost = scheduledRun({ snapshot: async () => {}, forget: async () => {} })
  await assert.rejects(noHost({ bucket: 'acme/a', path: '/d', publish: true, updatedAt: T }, signal), /runs no p2p host/)
})
