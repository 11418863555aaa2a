/**
 * Five-field cron expressions (minute hour day-of-month month day-of-week), evaluated in
 * UTC, and the next time one fires. Written here rather than taken from npm because the
 * whole job is ~100 lines, must be pure (the scheduler is tested on a fake clock), and
 * must name the offending field in its errors; the popular packages either read the host
 * time zone, accept a sixth (seconds) field, or report errors without naming the field.
 *
 * Supported: `*`, numbers, ranges `a-b`, steps `*\/n` `a-b/n` `a/n`, lists `a,b-c`, month
 * and weekday names (`jan`, `mon`), day-of-week 0 or 7 for Sunday, and the shorthands
 * @hourly @daily @weekly @monthly @yearly. When both day fields are restricted, a day
 * matches either (as in Vixie cron).
 */
import { RokError } from '../../protocol/errors.ts'
import { PolicyErrorCode } from './errors.ts'

export interface CronSchedule {
  source: string
  minutes: Set<number>
  hours: Set<number>
  days: Set<number>
  months: Set<number>
  weekdays: Set<number>
  daysRestricted: boolean
  weekdaysRestricted: boolean
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const SHORTHANDS: Record<string, string> = {
  '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *'
}
const FIELDS: Array<{ name: string, min: number, max: number, names?: string[], offset?: number }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, offset: 1 },
  { name: 'day-of-week', min: 0, max: 7, names: WEEKDAYS, offset: 0 }
]
/** No valid expression waits longer than this for its next firing (Feb 29 on a weekday: under 30 years). */
const SEARCH_YEARS = 30

export function parseCron (source: string): CronSchedule {
  const text = source.trim().toLowerCase()
  const expanded = SHORTHANDS[text] ?? text
  const parts = expanded.split(/\s+/)
  const bad = (message: string): RokError => new RokError(PolicyErrorCode.BAD_CRON, `schedule "${source}": ${message}`, { details: { schedule: source } })
  if (text.startsWith('@') && SHORTHANDS[text] === undefined) throw bad(`unknown shorthand; use one of ${Object.keys(SHORTHANDS).join(', ')}`)
  if (parts.length !== 5) {
    throw bad(`needs 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}; e.g. "0 3 * * *" is every day at 03:00 UTC`)
  }
  const sets = parts.map((part, i) => parseField(part, FIELDS[i], bad))
  const weekdays = sets[4]
  if (weekdays.delete(7)) weekdays.add(0)
  const schedule: CronSchedule = {
    source,
    minutes: sets[0],
    hours: sets[1],
    days: sets[2],
    months: sets[3],
    weekdays,
    daysRestricted: parts[2] !== '*' && !parts[2].startsWith('*/'),
    weekdaysRestricted: parts[4] !== '*' && !parts[4].startsWith('*/')
  }
  if (nextFire(schedule, Date.UTC(2000, 0, 1)) === undefined) throw bad('never fires (no such date)')
  return schedule
}

function parseField (part: string, field: typeof FIELDS[number], bad: (m: string) => RokError): Set<number> {
  const out = new Set<number>()
  const value = (text: string): number => {
    const named = field.names?.indexOf(text) ?? -1
    if (named !== -1) return named + (field.offset ?? 0)
    if (!/^\d+$/.test(text)) throw bad(`the ${field.name} field "${part}" has "${text}", which is not a number${field.names !== undefined ? ' or a name' : ''}`)
    const n = Number(text)
    if (n < field.min || n > field.max) throw bad(`the ${field.name} field "${part}" has ${n}, out of range ${field.min}-${field.max}`)
    return n
  }
  for (const item of part.split(',')) {
    if (item === '') throw bad(`the ${field.name} field "${part}" has an empty list item`)
    const [range, stepText, extra] = item.split('/')
    if (extra !== undefined) throw bad(`the ${field.name} field "${part}" has more than one "/"`)
    let step = 1
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw bad(`the ${field.name} field "${part}" has step "${stepText}"; a step is a whole number from 1`)
      step = Number(stepText)
    }
    let lo: number
    let hi: number
    if (range === '*') { lo = field.min; hi = field.name === 'day-of-week' ? 6 : field.max } else if (range.includes('-')) {
      const [a, b] = range.split('-')
      lo = value(a)
      hi = value(b)
      if (lo > hi) throw bad(`the ${field.name} field "${part}" has range ${a}-${b}, which runs backwards`)
    } else {
      lo = value(range)
      hi = stepText === undefined ? lo : field.max
    }
    for (let n = lo; n <= hi; n += step) out.add(n)
  }
  return out
}

/** The first firing strictly after `after` (ms since the epoch), or undefined if none within SEARCH_YEARS. */
export function nextFire (s: CronSchedule, after: number): number | undefined {
  let t = Math.floor(after / 60_000) * 60_000 + 60_000
  const limit = after + SEARCH_YEARS * 366 * 86_400_000
  while (t <= limit) {
    const d = new Date(t)
    const y = d.getUTCFullYear()
    const mo = d.getUTCMonth()
    const day = d.getUTCDate()
    const h = d.getUTCHours()
    if (!s.months.has(mo + 1)) { t = Date.UTC(y, mo + 1, 1); continue }
    if (!dayMatches(s, day, d.getUTCDay())) { t = Date.UTC(y, mo, day + 1); continue }
    if (!s.hours.has(h)) { t = Date.UTC(y, mo, day, h + 1); continue }
    if (!s.minutes.has(d.getUTCMinutes())) { t += 60_000; continue }
    return t
  }
  return undefined
}

function dayMatches (s: CronSchedule, day: number, weekday: number): boolean {
  if (s.daysRestricted && s.weekdaysRestricted) return s.days.has(day) || s.weekdays.has(weekday)
  return s.days.has(day) && s.weekdays.has(weekday)
}
