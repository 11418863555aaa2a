/**
 * Durations as users type them: a sequence of number+unit, e.g. `90s`, `15min`, `1h30min`,
 * `7d`, `2w`, `6mo`, `1y`. `m` alone is refused: restic reads it as months, most people as
 * minutes, and guessing wrong on a retention rule deletes data.
 */
import { RokError } from '../../protocol/errors.ts'
import { PolicyErrorCode } from './errors.ts'

const UNIT_MS: Record<string, number> = {
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  y: 365 * 86_400_000
}

export function parseDuration (text: string, what = 'duration'): number {
  const trimmed = text.trim()
  const re = /(\d+(?:\.\d+)?)([a-z]+)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(trimmed)) !== null) {
    const unit = m[2]
    if (unit === 'm') throw new RokError(PolicyErrorCode.BAD_DURATION, `${what} "${text}": "m" is ambiguous; write "min" for minutes or "mo" for months`)
    const ms = UNIT_MS[unit]
    if (ms === undefined) throw new RokError(PolicyErrorCode.BAD_DURATION, `${what} "${text}": unknown unit "${unit}"; use s, min, h, d, w, mo or y (e.g. 1h30min, 7d)`)
    total += Number(m[1]) * ms
    matched = re.lastIndex
  }
  if (trimmed === '0') return 0
  if (matched === 0 || matched !== trimmed.length) {
    throw new RokError(PolicyErrorCode.BAD_DURATION, `${what} "${text}" is not a duration: write a number and a unit, e.g. 0s, 90s, 15min, 1h, 7d, 2w, 6mo, 1y`)
  }
  return total
}

export function formatDuration (ms: number): string {
  if (ms === 0) return '0s'
  const parts: string[] = []
  let rest = ms
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['min', UNIT_MS.min], ['s', UNIT_MS.s]] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) { parts.push(`${n}${unit}`); rest -= n * size }
  }
  return parts.length === 0 ? `${ms}ms` : parts.join('')
}
