import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nextFire, parseCron } from '../../node/policy/cron.ts'

const at = (iso: string): number => Date.parse(iso)
const next = (expr: string, from: string): string => new Date(nextFire(parseCron(expr), at(from))!).toISOString()

test('next firing of common schedules (UTC)', () => {
  assert.equal(next('0 3 * * *', '2026-03-01T02:59:00Z'), '2026-03-01T03:00:00.000Z')
  assert.equal(next('0 3 * * *', '2026-03-01T03:00:00Z'), '2026-03-02T03:00:00.000Z', 'strictly after')
  assert.equal(next('*/15 * * * *', '2026-03-01T10:07:30Z'), '2026-03-01T10:15:00.000Z')
  assert.equal(next('@hourly', '2026-03-01T10:07:00Z'), '2026-03-01T11:00:00.000Z')
  assert.equal(next('0 0 * * sun', '2026-03-04T12:00:00Z'), '2026-03-08T00:00:00.000Z', '2026-03-08 is a Sunday')
  assert.equal(next('0 0 * * 7', '2026-03-04T12:00:00Z'), '2026-03-08T00:00:00.000Z', '7 is Sunday too')
  assert.equal(next('30 12 1 jan,jul *', '2026-03-04T00:00:00Z'), '2026-07-01T12:30:00.000Z')
  assert.equal(next('0 0 29 2 *', '2026-03-01T00:00:00Z'), '2028-02-29T00:00:00.000Z', 'leap day')
  assert.equal(next('0 9-17/4 * * mon-fri', '2026-03-06T14:00:00Z'), '2026-03-06T17:00:00.000Z', '9, 13, 17')
  assert.equal(next('0 9-17/4 * * mon-fri', '2026-03-06T17:30:00Z'), '2026-03-09T09:00:00.000Z', 'Friday evening → Monday 09:00')
  // both day fields restricted: either matches (Vixie cron)
  assert.equal(next('0 0 13 * fri', '2026-03-01T00:00:00Z'), '2026-03-06T00:00:00.000Z')
  assert.equal(next('59 23 31 12 *', '2026-12-31T23:59:00Z'), '2027-12-31T23:59:00.000Z', 'year rollover')
})

test('bad expressions name the field and what is wrong', () => {
  const bad = (expr: string, re: RegExp): void => {
    assert.throws(() => parseCron(expr), (err: { code: string, message: string }) => err.code === 'ERR_BAD_CRON' && re.test(err.message), expr)
  }
  bad('0 25 * * *', /hour field "25".*out of range 0-23/)
  bad('60 * * * *', /minute field "60".*0-59/)
  bad('* * 0 * *', /day-of-month field "0".*1-31/)
  bad('* * * 13 *', /month field "13".*1-12/)
  bad('* * * * 8', /day-of-week field "8".*0-7/)
  bad('* * * * funday', /day-of-week field "funday"/)
  bad('*/0 * * * *', /minute field "\*\/0" has step "0"/)
  bad('5-1 * * * *', /minute field "5-1".*backwards/)
  bad('0 3 * *', /needs 5 fields.*got 4/)
  bad('0 0 30 2 *', /never fires/)
  bad('@fortnightly', /unknown shorthand/)
  bad('1,,2 * * * *', /minute field.*empty list item/)
})
