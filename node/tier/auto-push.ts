/**
 * The daemon's automatic push: every `intervalMs` it looks for local versions the tier
 * does not hold (snapshots, publishes, scheduled runs and syncs all record versions the
 * same way, so one cheap check covers them all) and pushes them. A failing object store
 * is logged once per distinct error and retried with a growing pause; nothing is lost,
 * the next push resumes.
 */
import type { Tier } from './tier.ts'
import { AUTO_PUSH_INTERVAL_MS } from './constants.ts'

export interface AutoPushInit {
  tier: Pick<Tier, 'push' | 'hasUnpushed'>
  /** @default AUTO_PUSH_INTERVAL_MS (5 s) */
  intervalMs?: number
  log: (message: string) => void
}

export interface AutoPush {
  /** Check now instead of at the next tick. */
  kick: () => void
  stop: () => Promise<void>
}

const MAX_PAUSE_MS = 5 * 60 * 1000

export function startAutoPush (init: AutoPushInit): AutoPush {
  const interval = init.intervalMs ?? AUTO_PUSH_INTERVAL_MS
  const controller = new AbortController()
  let timer: NodeJS.Timeout | undefined
  let running: Promise<void> | undefined
  let pause = interval
  let lastError = ''
  const schedule = (ms: number): void => {
    if (controller.signal.aborted) return
    clearTimeout(timer)
    timer = setTimeout(() => { void tick() }, ms)
    timer.unref()
  }
  const tick = async (): Promise<void> => {
    if (running !== undefined) return
    running = (async () => {
      try {
        if (await init.tier.hasUnpushed()) {
          const report = await init.tier.push({ signal: controller.signal })
          if (report.versions.length > 0) init.log(`tier: pushed ${report.versions.join(', ')} (${report.packs} packs, ${report.uploadedBytes} bytes)`)
        }
        pause = interval
        lastError = ''
      } catch (err) {
        if (controller.signal.aborted) return
        const message = (err as Error).message
        if (message !== lastError) init.log(`tier: push failed, will retry: ${message}`)
        lastError = message
        pause = Math.min(MAX_PAUSE_MS, pause * 2)
      }
    })()
    await running
    running = undefined
    schedule(pause)
  }
  schedule(interval)
  return {
    kick: () => { schedule(0) },
    stop: async () => {
      controller.abort()
      clearTimeout(timer)
      await running?.catch(() => {})
    }
  }
}
