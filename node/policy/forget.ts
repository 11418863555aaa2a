/**
 * `rok forget`: apply retention rules (given, or the bucket's policy) to a bucket's
 * versions and remove the version records it does not keep. Data goes later, by gc.
 * The head is always kept, so the next snapshot's parent and what subscribers sync to
 * stay; a forgotten version's blocks stop being servable under this bucket (reverse
 * index) unless a kept version of it references them too.
 */
import type { CID } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import { BucketErrorCode, type Buckets } from '../buckets/index.ts'
import { manifestBlocks } from '../snapshot/index.ts'
import type { RefIndex } from '../sync/refs.ts'
import type { DiskBlockStore } from '../store/index.ts'
import { PolicyErrorCode } from './errors.ts'
import { markLive } from './gc.ts'
import type { PolicyStore } from './policies.ts'
import { applyRetention, hasRetention, type RetentionRules } from './retention.ts'

export interface ForgetDeps {
  buckets: Pick<Buckets, 'log' | 'remove'>
  policies: Pick<PolicyStore, 'get' | 'pins'>
  refs: Pick<RefIndex, 'removeVersion'>
  store: Pick<DiskBlockStore, 'get'>
}

export interface ForgetOutcome {
  bucket: string
  dryRun: boolean
  /** Where the rules came from. */
  rulesFrom: 'flags' | 'policy'
  rules: RetentionRules
  /** Newest first. */
  versions: Array<{ seq: number, createdAt: string, keep: boolean, reasons: string[] }>
  kept: number
  forgotten: number
}

export async function forgetVersions (deps: ForgetDeps, bucket: string, given: RetentionRules | undefined, options: { dryRun?: boolean, now: number, signal?: AbortSignal }): Promise<ForgetOutcome> {
  let rules = given
  let rulesFrom: ForgetOutcome['rulesFrom'] = 'flags'
  if (rules === undefined || !hasRetention(rules)) {
    const policy = await deps.policies.get(bucket)
    if (policy?.retention === undefined || !hasRetention(policy.retention)) {
      throw new RokError(PolicyErrorCode.NO_POLICY, `${bucket} has no retention policy: pass --keep-last, --keep-daily, ... or set them with 'rok policy set ${bucket} --keep-...'`, { details: { bucket } })
    }
    rules = policy.retention
    rulesFrom = 'policy'
  }
  const pins = await deps.policies.pins(bucket)
  const entries: Array<{ seq: number, cid: CID, root: CID, createdAt: number }> = []
  for await (const v of deps.buckets.log(bucket)) entries.push({ seq: v.seq, cid: v.cid, root: v.record.root, createdAt: v.record.createdAt })
  if (entries.length === 0) throw new RokError(BucketErrorCode.BUCKET_NOT_FOUND, `bucket ${bucket} has no versions here; 'rok log' lists local buckets`, { details: { bucket } })
  const decisions = applyRetention(entries.map(e => ({ seq: e.seq, createdAt: e.createdAt, pinned: pins.has(e.seq) })), rules, options.now)
  const dropped = new Set(decisions.filter(d => !d.keep).map(d => d.seq))
  if (options.dryRun !== true && dropped.size > 0) {
    const kept = entries.filter(e => !dropped.has(e.seq))
    const keptBlocks = await markLive(deps.store, { all: async function * () { for (const e of kept) yield { bucket, seq: e.seq, cid: e.cid } } }, options.signal)
    for (const e of entries.filter(e => dropped.has(e.seq))) {
      options.signal?.throwIfAborted()
      // The record goes first: a crash after it leaves only stale reverse-index entries (harmless, as before forget existed).
      await deps.buckets.remove(bucket, e.seq)
      const get = async (c: CID): Promise<Uint8Array> => await deps.store.get(c)
      await deps.refs.removeVersion(bucket, e.cid, (async function * () {
        yield e.cid
        for await (const b of manifestBlocks(get, e.root)) if (!keptBlocks.has(b.cid.toString())) yield b.cid
      })())
    }
  }
  return {
    bucket,
    dryRun: options.dryRun === true,
    rulesFrom,
    rules,
    versions: decisions.map(d => ({ seq: d.seq, createdAt: new Date(d.createdAt).toISOString(), keep: d.keep, reasons: d.reasons })),
    kept: decisions.length - dropped.size,
    forgotten: dropped.size
  }
}
