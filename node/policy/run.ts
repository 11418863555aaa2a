/**
 * What a scheduled firing does: snapshot (or publish) the policy's path; after a publish,
 * make sure the groups the policy shares the bucket with may read it; then apply the
 * policy's retention.
 */
import type { BucketPolicy } from './policies.ts'
import { hasRetention } from './retention.ts'

export interface ScheduledRunDeps {
  snapshot: (path: string, bucket: string, message: string, signal: AbortSignal) => Promise<unknown>
  /** Absent when the node runs no p2p host; a policy that publishes then fails with a clear log line. */
  publish?: (path: string, bucket: string, message: string, signal: AbortSignal) => Promise<unknown>
  /** Grant registry groups read access (absent without a registry: sharing then waits for one). */
  share?: (bucket: string, groups: string[], signal: AbortSignal) => Promise<void>
  forget: (bucket: string, signal: AbortSignal) => Promise<unknown>
  log?: (message: string) => void
}

export function scheduledRun (deps: ScheduledRunDeps): (policy: BucketPolicy, signal: AbortSignal) => Promise<void> {
  return async (policy, signal) => {
    if (policy.path === undefined) return
    const message = `scheduled (${policy.schedule ?? ''})`
    if (policy.publish === true) {
      if (deps.publish === undefined) throw new Error(`${policy.bucket} is set to publish, but this node runs no p2p host`)
      await deps.publish(policy.path, policy.bucket, message, signal)
      const groups = policy.shareWith ?? []
      if (groups.length > 0) {
        if (deps.share === undefined) deps.log?.(`${policy.bucket} is to be shared with ${groups.join(', ')}, but this node has no registry ('rok node start --registry URL')`)
        else {
          // a registry that is down must not cost the version or its retention: log and go on
          await deps.share(policy.bucket, groups, signal).catch((err: Error) => deps.log?.(`sharing ${policy.bucket} with ${groups.join(', ')}: ${err.message}`))
        }
      }
    } else {
      await deps.snapshot(policy.path, policy.bucket, message, signal)
    }
    if (policy.retention !== undefined && hasRetention(policy.retention)) await deps.forget(policy.bucket, signal)
  }
}
