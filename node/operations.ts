/**
 * The engine's operations in the JSON shapes of the node API (protocol/node-api.ts). The
 * daemon's routes and the CLI (when no daemon owns the home) both go through this, so a
 * command prints the same thing either way.
 */
import { RokError } from '../protocol/errors.ts'
import { parseVersionRef } from '../protocol/bucket-name.ts'
import type { NodeOperations, VersionInfo } from '../protocol/node-api.ts'
import { BucketErrorCode } from './buckets/index.ts'
import type { Engine } from './engine.ts'
import { policyOperations } from './policy/operations.ts'
import { tierOperations } from './tier/operations.ts'
import { summarize, type Change } from './snapshot/index.ts'

export function localOperations (engine: Engine, options: { onPolicyChange?: () => void } = {}): NodeOperations {
  return {
    ...policyOperations(engine, { onChange: options.onPolicyChange }),
    ...tierOperations(engine),
    async peerId () { return engine.peerId },
    async snapshot (body, options = {}) {
      return await engine.snapshot(body.path, {
        bucket: body.bucket, message: body.message, ignoreInode: body.ignoreInode, signal: options.signal,
        onProgress: options.onProgress === undefined ? undefined : p => options.onProgress!({ bytes: p.bytes, total: p.total, files: p.files })
      })
    },
    async restore (body, options = {}) {
      const ref = parseVersionRef(body.version)
      return await engine.restore({
        bucket: ref.bucket, seq: ref.seq, dest: body.dest, force: body.force, signal: options.signal,
        onProgress: options.onProgress === undefined ? undefined : p => options.onProgress!({ bytes: p.bytes, total: p.total, files: p.files })
      })
    },
    async buckets () { return await engine.buckets.list() },
    async versions (bucket) {
      const out: VersionInfo[] = []
      for await (const v of engine.buckets.log(bucket)) {
        out.push({
          bucket, seq: v.seq, cid: v.cid.toString(), root: v.record.root.toString(), kind: v.record.kind, size: v.record.size,
          createdAt: new Date(v.record.createdAt).toISOString(), publisher: v.record.publisher, message: v.record.message
        })
      }
      if (out.length === 0) throw new RokError(BucketErrorCode.BUCKET_NOT_FOUND, `bucket ${bucket} has no versions here; 'rok log' lists local buckets`, { details: { bucket } })
      return out
    },
    async diff (from, to, options = {}) {
      const changes: Change[] = []
      for await (const c of engine.diff(parseVersionRef(from), parseVersionRef(to), options.signal)) changes.push(c)
      return { from, to, summary: summarize(changes), changes }
    },
    async verify (body, options = {}) {
      return await engine.verify({ repair: body.repair, signal: options.signal, onProgress: options.onProgress === undefined ? undefined : p => options.onProgress!({ bytes: p.bytes, blocks: p.blocks }) })
    },
    async gc (body, options = {}) {
      return await engine.gc({
        dryRun: body.dryRun, graceMs: body.graceSeconds === undefined ? undefined : body.graceSeconds * 1000, signal: options.signal,
        onProgress: options.onProgress === undefined ? undefined : p => options.onProgress!({ phase: p.phase, bytes: p.bytes, blocks: p.blocks })
      })
    },
    async stats () { return { peerId: engine.peerId, ...await engine.stats() } }
  }
}
