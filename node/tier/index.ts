/**
 * The object-storage tier: a node keeps the deduplicated blocks of its versions in an
 * S3-compatible object store (or a mounted folder) as well as on local disk.
 *
 * Terms:
 * - backend: an object store behind the ObjectBackend interface (S3 or a folder),
 *   wrapped with retries.
 * - pack: one object holding many blocks plus a trailer listing them (pack.ts).
 * - catalog: the node's local record of which packs and blocks the tier holds, so
 *   pushes do not LIST or HEAD per block (catalog.ts).
 * - version object: a version's signed record, written after all its blocks (keys.ts).
 * - push / pull / read-through / verify / sweep: push.ts, pull.ts, fetch.ts, verify.ts,
 *   sweep.ts.
 */
export type { ObjectBackend, ObjectInfo, ByteRange, BackendOptions } from './backend.ts'
export { localBackend } from './local-backend.ts'
// s3-backend.ts is imported on demand by backendFor (it loads the AWS SDK)
export type { S3Backend, S3BackendInit } from './s3-backend.ts'
export { withRetry, type RetryInit } from './retry.ts'
export {
  backendFor, describeTier, parseTierSettings, readTierConfig, writeTierConfig, configPath,
  type TierConfig, type TierSettingsInput, type BackendHooks
} from './config.ts'
export { Tier, configureTier, type TierInit } from './tier.ts'
export type { TierStatus } from '../../protocol/tier-api.ts'
export { sweepTier, type SweepOptions, type SweepReport, type SweepProgress, type SweepContext } from './sweep.ts'
export type { PushReport, PushProgress, PushOptions } from './push.ts'
export type { PullReport, PullProgress, PullOptions, RemoteVersion } from './pull.ts'
export type { TierVerifyReport, TierDamage } from './verify.ts'
export { TierErrorCode, TIER_ERROR_STATUS } from './errors.ts'
export { tierOperations } from './operations.ts'
export { startAutoPush, type AutoPush, type AutoPushInit } from './auto-push.ts'
export { AUTO_PUSH_INTERVAL_MS, DEFAULT_GRACE_MS, PACK_TARGET_SIZE as TIER_PACK_TARGET_SIZE } from './constants.ts'
