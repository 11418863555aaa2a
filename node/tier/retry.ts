/**
 * Retries for an object backend: transient failures (ERR_TIER_UNREACHABLE with
 * `details.transient`) are retried with exponential backoff and jitter; after the last
 * attempt the error says how many were made. Everything else fails at once.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { RokError } from '../../protocol/errors.ts'
import type { ObjectBackend } from './backend.ts'
import { RETRY_ATTEMPTS, RETRY_BASE_MS, RETRY_MAX_MS } from './constants.ts'
import { TierErrorCode } from './errors.ts'

export interface RetryInit {
  /** @default RETRY_ATTEMPTS (5) */
  attempts?: number
  /** @default RETRY_BASE_MS (250) */
  baseMs?: number
  /** @default RETRY_MAX_MS (8000) */
  maxMs?: number
  /** Told about each retry (logs, progress). */
  onRetry?: (info: { op: string, key: string, attempt: number, delayMs: number, error: RokError }) => void
}

export function withRetry (backend: ObjectBackend, init: RetryInit = {}): ObjectBackend {
  const attempts = Math.max(1, init.attempts ?? RETRY_ATTEMPTS)
  const base = init.baseMs ?? RETRY_BASE_MS
  const max = init.maxMs ?? RETRY_MAX_MS
  const run = async <T>(op: string, key: string, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        const transient = err instanceof RokError && err.code === TierErrorCode.UNREACHABLE && err.details.transient === true
        if (!transient) throw err
        if (attempt >= attempts) {
          throw new RokError(TierErrorCode.UNREACHABLE, `${err.message} (gave up after ${attempts} attempts; what was uploaded is kept and the next run resumes)`, { cause: err, details: { ...err.details, transient: false, attempts } })
        }
        const delayMs = Math.min(max, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
        init.onRetry?.({ op, key, attempt, delayMs, error: err })
        await sleep(delayMs, undefined, { signal })
      }
    }
  }
  return {
    location: backend.location,
    check: async (o = {}) => { await run('check', '', o.signal, async () => { await backend.check(o) }) },
    put: async (key, body, o = {}) => { await run('put', key, o.signal, async () => { await backend.put(key, body, o) }) },
    get: async (key, o = {}) => await run('get', key, o.signal, async () => await backend.get(key, o)),
    head: async (key, o = {}) => await run('head', key, o.signal, async () => await backend.head(key, o)),
    list: async (prefix, o = {}) => await run('list', prefix, o.signal, async () => await backend.list(prefix, o)),
    delete: async (key, o = {}) => { await run('delete', key, o.signal, async () => { await backend.delete(key, o) }) }
  }
}
