/**
 * Step snapshots through the Rok node's snapshot engine. The runner only needs these
 * two calls, so it takes them rather than the engine (and tests can count them).
 * Snapshots of one bucket are taken one at a time: parallel steps would otherwise race
 * to append versions to the same bucket.
 */
import { SNAPSHOT_GROUP } from '../constants.ts'
import { KaleErrorCode, kaleError } from '../errors.ts'
import type { SnapshotRef } from './records.ts'

export interface SnapshotEngine {
  snapshot: (path: string, opts: { bucket: string, message?: string, signal?: AbortSignal }) => Promise<SnapshotRef>
  restore: (opts: { bucket: string, seq?: number, dest: string, force?: boolean, signal?: AbortSignal }) => Promise<unknown>
}

export interface StepSnapshots {
  bucket: string
  take: (path: string, message: string, signal?: AbortSignal) => Promise<SnapshotRef>
  restore: (ref: SnapshotRef, dest: string, signal?: AbortSignal) => Promise<void>
}

/** Bucket `kale/<pipeline>`: pipeline names are already lowercase letters, digits and '-'. */
export function snapshotBucket (pipeline: string): string {
  return `${SNAPSHOT_GROUP}/${pipeline}`
}

export function stepSnapshots (engine: SnapshotEngine, pipeline: string): StepSnapshots {
  const bucket = snapshotBucket(pipeline)
  let queue: Promise<unknown> = Promise.resolve()
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = queue.then(fn, fn)
    queue = next.catch(() => {})
    return next
  }
  return {
    bucket,
    take: async (path, message, signal) => await serial(async () => {
      try {
        const ref = await engine.snapshot(path, { bucket, message, signal })
        return { bucket: ref.bucket, seq: ref.seq, cid: String(ref.cid) }
      } catch (cause) {
        throw kaleError(KaleErrorCode.SNAPSHOT, `snapshot of ${path} into ${bucket} failed: ${(cause as Error).message}`, { cause })
      }
    }),
    restore: async (ref, dest, signal) => await serial(async () => {
      try {
        await engine.restore({ bucket: ref.bucket, seq: ref.seq, dest, force: true, signal })
      } catch (cause) {
        throw kaleError(KaleErrorCode.SNAPSHOT, `restore of ${ref.bucket}@${ref.seq} into ${dest} failed: ${(cause as Error).message}`, { cause })
      }
    })
  }
}
