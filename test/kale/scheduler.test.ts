/** The step scheduler: dependency order, a cap on parallel steps, stopping after a failure. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { runDag, type Job } from '../../kale/runner/scheduler.ts'

const tick = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

describe('step scheduler', () => {
  const jobs: Job[] = [
    { name: 'a', prev: [] },
    { name: 'b', prev: ['a'] },
    { name: 'c', prev: ['a'] },
    { name: 'd', prev: ['a'] },
    { name: 'e', prev: ['b', 'c', 'd'] }
  ]

  it('starts a step only after all of its prev, and never more than the cap at once', async () => {
    const log: string[] = []
    let running = 0
    let peak = 0
    const result = await runDag(jobs, async name => {
      running++
      peak = Math.max(peak, running)
      log.push(`start ${name}`)
      await tick(); await tick()
      log.push(`end ${name}`)
      running--
      return 'succeeded'
    }, { parallel: 2 })
    assert.equal(peak, 2)
    assert.ok(log.indexOf('end a') < log.indexOf('start b'))
    for (const p of ['b', 'c', 'd']) assert.ok(log.indexOf(`end ${p}`) < log.indexOf('start e'))
    assert.deepEqual([...result.values()], ['succeeded', 'succeeded', 'succeeded', 'succeeded', 'succeeded'])
  })

  it('after a failure starts nothing new, lets running steps finish, and reports the rest as skipped', async () => {
    const started: string[] = []
    const result = await runDag(jobs, async name => {
      started.push(name)
      await tick()
      return name === 'b' ? 'failed' : 'succeeded'
    }, { parallel: 2 })
    assert.deepEqual(started, ['a', 'b', 'c'])
    assert.equal(result.get('b'), 'failed')
    assert.equal(result.get('c'), 'succeeded')
    assert.equal(result.get('d'), 'skipped')
    assert.equal(result.get('e'), 'skipped')
  })

  it('treats steps reused from an earlier run as done', async () => {
    const started: string[] = []
    await runDag(jobs, async name => { started.push(name); return 'succeeded' }, { parallel: 4, done: new Set(['a', 'b', 'c']) })
    assert.deepEqual(started, ['d', 'e'])
  })
})
