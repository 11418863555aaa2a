/**
 * Policy, forget and pin operations in the JSON shapes of protocol/policy-api.ts, over an
 * engine; the daemon's routes and the in-process CLI both use them. `onChange` lets the
 * daemon's scheduler look again when a policy is set or removed.
 */
import { parseBucketName } from '../../protocol/bucket-name.ts'
import { RokError } from '../../protocol/errors.ts'
import type { PolicyInfo, PolicyOperations } from '../../protocol/policy-api.ts'
import type { Engine } from '../engine.ts'
import { nextFire, parseCron } from './cron.ts'
import { PolicyErrorCode } from './errors.ts'
import type { BucketPolicy } from './policies.ts'

export function policyOperations (engine: Pick<Engine, 'policies' | 'forget' | 'buckets'>, options: { now?: () => number, onChange?: () => void } = {}): PolicyOperations {
  const now = options.now ?? Date.now
  const info = async (p: BucketPolicy): Promise<PolicyInfo> => {
    const lastRun = await engine.policies.lastRun(p.bucket)
    const next = p.schedule === undefined ? undefined : nextFire(parseCron(p.schedule), Math.max(lastRun ?? p.updatedAt, now()))
    const { updatedAt, ...rest } = p
    return {
      ...rest,
      updatedAt: new Date(updatedAt).toISOString(),
      ...(lastRun !== undefined ? { lastRun: new Date(lastRun).toISOString() } : {}),
      ...(next !== undefined ? { nextRun: new Date(next).toISOString() } : {}),
      pinned: [...await engine.policies.pins(p.bucket)].sort((a, b) => a - b)
    }
  }
  return {
    async policies () {
      return await Promise.all((await engine.policies.list()).map(info))
    },
    async policy (bucket) {
      parseBucketName(bucket)
      const p = await engine.policies.get(bucket)
      if (p === undefined) throw new RokError(PolicyErrorCode.NO_POLICY, `${bucket} has no policy here; 'rok policy set ${bucket} ...' makes one`, { details: { bucket } })
      return await info(p)
    },
    async setPolicy (body) {
      const p = await engine.policies.set({ ...body, updatedAt: now() })
      options.onChange?.()
      return await info(p)
    },
    async removePolicy (bucket) {
      const removed = await engine.policies.remove(bucket)
      options.onChange?.()
      return { bucket, removed }
    },
    async forget (body, o = {}) {
      return await engine.forget(body.bucket, body.rules, { dryRun: body.dryRun, signal: o.signal })
    },
    async pin (body) {
      // pinning a version that does not exist is a mistake worth a clear error
      if (body.pinned) await engine.buckets.get(body.bucket, body.seq)
      else parseBucketName(body.bucket)
      await engine.policies.pin(body.bucket, body.seq, body.pinned)
      return body
    }
  }
}
