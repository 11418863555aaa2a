/** The upload cap's token bucket, on a clock the test moves by hand. */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { P2PErrorCode } from '../../node/p2p/errors.ts'
import { UploadLimit } from '../../node/p2p/exchange/upload-limit.ts'

describe('UploadLimit', () => {
  it('lets a burst through, then books later bytes behind the earlier ones', () => {
    let now = 0
    const limit = new UploadLimit(1_000_000, () => now)
    // burst: 100 ms at 1 MB/s
    assert.equal(limit.reserve(100_000), 0)
    // 500 KB more with no time passed: sent after 0.5 s
    assert.equal(limit.reserve(500_000), 500)
    // the next taker queues behind that debt
    assert.equal(limit.reserve(250_000), 750)
    now = 750
    assert.equal(limit.reserve(0), 0)
  })

  it('refills at the rate but never beyond the burst', () => {
    let now = 0
    const limit = new UploadLimit(1_000_000, () => now)
    now = 60_000
    assert.equal(limit.reserve(100_000), 0)
    assert.equal(limit.reserve(1_000_000), 1000)
  })

  it('passes a block larger than the burst', () => {
    let now = 0
    const limit = new UploadLimit(256 * 1024, () => now)
    assert.equal(limit.reserve(4 * 1024 * 1024), 15.75 * 1000)
  })

  it('waits in take, and stops waiting when aborted', async () => {
    const limit = new UploadLimit(1_000_000)
    limit.reserve(100_000)
    const started = performance.now()
    await limit.take(50_000)
    assert.ok(performance.now() - started >= 45)
    const controller = new AbortController()
    const waiting = limit.take(10_000_000, controller.signal)
    controller.abort(new Error('stream ended'))
    await assert.rejects(waiting, /stream ended/)
  })

  it('refuses a rate that is not a number of at least 256 KiB/s', () => {
    for (const rate of [0, -1, 1000, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new UploadLimit(rate), { code: P2PErrorCode.INVALID_RATE })
    }
  })
})
