/** What a scheduled firing does: snapshot (or publish) the policy's path, then apply its retention. */
import type { BucketPolicy } from './policies.ts'
import { hasRetention } from './retention.ts'

export interface ScheduledRunDeps {
  snapshot: (path: string, bucket: string, message: string, signal: AbortSignal) => Promise<unknown>
  /** Absent when the node runs no p2p host; a policy that publishes then fails with a clear log line. */
  publish?: (path: string, bucket: string, message: string, signal: AbortSignal) => Promise<unknown>
  forget: (bucket: string, signal: AbortSignal) => Promise<unknown>
}

export function scheduledRun (deps: ScheduledRunDeps): (policy: BucketPolicy, signal: AbortSignal) => Promise<void> {
  return async (policy, signal) => {
    if (policy.path === undefined) return
    const message = `scheduled (${policy.schedule ?? ''})`
    if (policy.publish === true) {
      if (deps.publish === undefined) throw new Error(`${policy.bucket} is set to publish, but this node runs no p2p host`)
      await deps.publish(policy.path, policy.bucket, message, signal)
    } else {
      await deps.snapshot(policy.path, policy.bucket, message, signal)
    }
    if (policy.retention !== undefined && hasRetention(policy.retention)) await deps.forget(policy.bucket, signal)
  }
}
