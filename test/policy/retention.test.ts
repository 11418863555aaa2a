import { test } from 'node:test'
import assert from 'node:assert/strict'
import { applyRetention, isoWeek, type RetentionVersion } from '../../node/policy/retention.ts'
import { parseDuration } from '../../node/policy/duration.ts'

const H = 3_600_000
const D = 24 * H
const T0 = Date.parse('2026-03-01T00:30:00Z')

/** A version every 6 hours for 60 days, seq 1 oldest; the clock is just after the last. */
function sixHourly (): { versions: RetentionVersion[], now: number } {
  const versions: RetentionVersion[] = []
  for (let i = 0; i < 240; i++) versions.push({ seq: i + 1, createdAt: T0 + i * 6 * H })
  return { versions, now: T0 + 239 * 6 * H + 60_000 }
}

const kept = (d: ReturnType<typeof applyRetention>): number[] => d.filter(x => x.keep).map(x => x.seq).sort((a, b) => a - b)

test('keep-last keeps the N newest; the head and pinned versions always stay', () => {
  const { versions, now } = sixHourly()
  versions[9].pinned = true
  const d = applyRetention(versions, { keepLast: 3 }, now)
  assert.deepEqual(kept(d), [10, 238, 239, 240])
  assert.deepEqual(d.find(x => x.seq === 240)!.reasons, ['latest', 'last'])
  assert.deepEqual(d.find(x => x.seq === 10)!.reasons, ['pinned'])
  assert.deepEqual(d.find(x => x.seq === 1)!.reasons, [])
  // keep-last 0 still keeps the head
  assert.deepEqual(kept(applyRetention(versions.map(v => ({ ...v, pinned: false })), { keepLast: 0 }, now)), [240])
})

test('keep-daily / weekly / monthly keep the newest version of each period, newest periods first', () => {
  const { versions, now } = sixHourly()
  const daily = applyRetention(versions, { keepDaily: 7 }, now)
  // versions at 00:30, 06:30, 12:30, 18:30 each day; the newest of a day is 18:30 (seq 4k)
  assert.deepEqual(kept(daily), [216, 220, 224, 228, 232, 236, 240])
  const weekly = kept(applyRetention(versions, { keepWeekly: 3 }, now))
  assert.equal(weekly.length, 3)
  for (const seq of weekly) {
    const t = new Date(versions[seq - 1].createdAt)
    const sameWeekLater = versions.filter(v => v.createdAt > t.getTime() && isoWeek(new Date(v.createdAt)) === isoWeek(t))
    assert.equal(sameWeekLater.length, 0, `seq ${seq} is the newest of its ISO week`)
  }
  const monthly = applyRetention(versions, { keepMonthly: -1 }, now)
  // March 1 .. April 29: the last of March (Mar 31 18:30) and the newest in April
  assert.deepEqual(kept(monthly), [124, 240])
  assert.deepEqual(monthly.find(x => x.seq === 124)!.reasons, ['monthly'])
  const yearly = kept(applyRetention(versions, { keepYearly: 5 }, now))
  assert.deepEqual(yearly, [240])
})

test('rules combine as a union with every reason listed, like restic', () => {
  const { versions, now } = sixHourly()
  const d = applyRetention(versions, { keepLast: 2, keepHourly: 2, keepWithinMs: 13 * H }, now)
  assert.deepEqual(kept(d), [238, 239, 240])
  assert.deepEqual(d.find(x => x.seq === 240)!.reasons, ['latest', 'last', 'hourly', 'within'])
  assert.deepEqual(d.find(x => x.seq === 238)!.reasons, ['within'])
})

test('keep-within measures from the clock', () => {
  const { versions, now } = sixHourly()
  assert.deepEqual(kept(applyRetention(versions, { keepWithinMs: 2 * D }, now)), [233, 234, 235, 236, 237, 238, 239, 240])
  assert.deepEqual(kept(applyRetention(versions, { keepWithinMs: 2 * D }, now + 30 * D)), [240], 'long after: only the head')
})

test('bad rules and durations are refused with a message naming them', () => {
  const { versions, now } = sixHourly()
  assert.throws(() => applyRetention(versions, {}, now), /no retention rule given/)
  assert.throws(() => applyRetention(versions, { keepDaily: -2 }, now), /--keep-daily must be a whole number/)
  assert.throws(() => applyRetention(versions, { keepLast: 1.5 }, now), /--keep-last/)
  assert.equal(parseDuration('1h30min'), 90 * 60_000)
  assert.equal(parseDuration('0'), 0)
  assert.equal(parseDuration('2w'), 14 * D)
  assert.throws(() => parseDuration('5m'), /ambiguous/)
  assert.throws(() => parseDuration('ten days'), /not a duration/)
  assert.throws(() => parseDuration('3 parsecs'), /not a duration/)
  assert.throws(() => parseDuration('3x'), /unknown unit "x"/)
})
