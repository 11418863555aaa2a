/**
 * Which versions of a bucket to keep: the rules restic's `forget` users know, as a pure
 * function of the version list and the clock.
 *
 * - keep-last N: the N newest.
 * - keep-hourly/daily/weekly/monthly/yearly N: walking from newest to oldest, the newest
 *   version of each hour/day/ISO week/month/year, for the N newest such periods (UTC).
 *   -1 means every period.
 * - keep-within D: every version created within D of now (restic measures from the newest
 *   snapshot instead; a bucket whose schedule stopped then keeps its head anyway, below).
 * - pinned versions, and the bucket's newest version (its head: the parent of the next
 *   snapshot and what subscribers sync to), are always kept.
 */
import { RokError } from '../../protocol/errors.ts'
import { PolicyErrorCode } from './errors.ts'

export interface RetentionRules {
  keepLast?: number
  keepHourly?: number
  keepDaily?: number
  keepWeekly?: number
  keepMonthly?: number
  keepYearly?: number
  keepWithinMs?: number
}

export interface RetentionVersion {
  seq: number
  /** Milliseconds since the epoch. */
  createdAt: number
  pinned?: boolean
}

export interface RetentionDecision {
  seq: number
  createdAt: number
  keep: boolean
  /** Why it is kept (empty when it is forgotten): 'latest', 'pinned', 'last', 'hourly', ..., 'within'. */
  reasons: string[]
}

const COUNT_RULES = ['keepLast', 'keepHourly', 'keepDaily', 'keepWeekly', 'keepMonthly', 'keepYearly'] as const

/** Throws ERR_BAD_POLICY unless at least one rule is given and every count is an integer ≥ -1. */
export function checkRetention (rules: RetentionRules): void {
  for (const name of COUNT_RULES) {
    const n = rules[name]
    if (n !== undefined && (!Number.isInteger(n) || n < -1)) {
      throw new RokError(PolicyErrorCode.BAD_POLICY, `${flagName(name)} must be a whole number of versions (or -1 for all), not ${String(n)}`)
    }
  }
  if (rules.keepWithinMs !== undefined && !(rules.keepWithinMs >= 0)) throw new RokError(PolicyErrorCode.BAD_POLICY, '--keep-within must be a positive duration')
  if (!hasRetention(rules)) {
    throw new RokError(PolicyErrorCode.BAD_POLICY, 'no retention rule given: pass at least one of --keep-last, --keep-hourly, --keep-daily, --keep-weekly, --keep-monthly, --keep-yearly, --keep-within (or set them in the bucket\'s policy)')
  }
}

export function hasRetention (rules: RetentionRules): boolean {
  return COUNT_RULES.some(n => rules[n] !== undefined) || rules.keepWithinMs !== undefined
}

export function flagName (rule: string): string {
  return '--' + rule.replace(/[A-Z]/g, c => '-' + c.toLowerCase()).replace(/-ms$/, '')
}

/** Decisions for every version, newest first. */
export function applyRetention (versions: RetentionVersion[], rules: RetentionRules, now: number): RetentionDecision[] {
  checkRetention(rules)
  const sorted = [...versions].sort((a, b) => b.createdAt - a.createdAt || b.seq - a.seq)
  const out = sorted.map(v => ({ seq: v.seq, createdAt: v.createdAt, keep: false, reasons: [] as string[] }))
  const keep = (i: number, reason: string): void => { out[i].keep = true; out[i].reasons.push(reason) }
  // The head by seq, not by date: a clock step back must not make an older version the head.
  const head = Math.max(...versions.map(v => v.seq))
  sorted.forEach((v, i) => {
    if (v.seq === head) keep(i, 'latest')
    if (v.pinned === true) keep(i, 'pinned')
  })
  if (rules.keepLast !== undefined) {
    const n = rules.keepLast === -1 ? Infinity : rules.keepLast
    for (let i = 0; i < Math.min(n, sorted.length); i++) keep(i, 'last')
  }
  const periods: Array<[keyof RetentionRules, string, (t: Date) => string]> = [
    ['keepHourly', 'hourly', t => t.toISOString().slice(0, 13)],
    ['keepDaily', 'daily', t => t.toISOString().slice(0, 10)],
    ['keepWeekly', 'weekly', isoWeek],
    ['keepMonthly', 'monthly', t => t.toISOString().slice(0, 7)],
    ['keepYearly', 'yearly', t => t.toISOString().slice(0, 4)]
  ]
  for (const [rule, reason, period] of periods) {
    const count = rules[rule]
    if (count === undefined) continue
    let left = count === -1 ? Infinity : count
    let last: string | undefined
    for (let i = 0; i < sorted.length && left > 0; i++) {
      const p = period(new Date(sorted[i].createdAt))
      if (p === last) continue
      last = p
      keep(i, reason)
      left--
    }
  }
  if (rules.keepWithinMs !== undefined) {
    sorted.forEach((v, i) => { if (v.createdAt >= now - rules.keepWithinMs!) keep(i, 'within') })
  }
  return out
}

/** ISO 8601 week of a UTC date, e.g. 2026-W01. */
export function isoWeek (t: Date): string {
  const d = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()))
  const day = d.getUTCDay() === 0 ? 7 : d.getUTCDay()
  d.setUTCDate(d.getUTCDate() + 4 - day)
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1)
  const week = Math.ceil(((d.getTime() - yearStart) / 86_400_000 + 1) / 7)
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`
}
