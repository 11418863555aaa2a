/**
 * Tier operations in the JSON shapes of protocol/tier-api.ts, over an engine; the
 * daemon's routes and the in-process CLI both use them.
 */
import { parseBucketName, parseVersionRef } from '../../protocol/bucket-name.ts'
import { RokError } from '../../protocol/errors.ts'
import type { TierOperations } from '../../protocol/tier-api.ts'
import type { Engine } from '../engine.ts'
import { TierErrorCode } from './errors.ts'
import type { Tier } from './tier.ts'

export function tierOperations (engine: Pick<Engine, 'tier'>): TierOperations {
  const tier = (): Tier => {
    if (engine.tier === undefined) {
      throw new RokError(TierErrorCode.NOT_CONFIGURED, "no object-storage tier is configured for this node: run 'rok tier set --endpoint URL --bucket NAME' first (a running daemon picks it up when restarted)")
    }
    return engine.tier
  }
  return {
    async tierStatus () { return await tier().status() },
    async tierPush (body, options = {}) {
      if (body.bucket !== undefined) parseBucketName(body.bucket)
      return await tier().push({ bucket: body.bucket, signal: options.signal, onProgress: p => options.onProgress?.({ bytes: p.bytes, blocks: p.blocks }) })
    },
    async tierPull (body, options = {}) {
      const ref = parseVersionRef(body.version)
      return await tier().pull(ref.bucket, ref.seq, { data: body.data === true, signal: options.signal, onProgress: p => options.onProgress?.({ bytes: p.bytes, blocks: p.blocks }) })
    },
    async tierList (bucket, options = {}) {
      if (bucket !== undefined) parseBucketName(bucket)
      return await tier().list(bucket, options.signal)
    },
    async tierVerify (options = {}) {
      return await tier().verify({ signal: options.signal, onProgress: p => options.onProgress?.({ bytes: p.bytes }) })
    }
  }
}
