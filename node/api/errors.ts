/** Node API error codes and the HTTP status each is answered with. */
import { ProtocolErrorCode } from '../../protocol/errors.ts'
import { BucketErrorCode } from '../buckets/errors.ts'
import { SnapshotErrorCode } from '../snapshot/errors.ts'
import { StoreErrorCode } from '../store/errors.ts'
import { HomeErrorCode } from '../home.ts'
import { SYNC_ERROR_STATUS } from '../sync/errors.ts'
import { REGISTRY_LINK_ERROR_STATUS } from '../registry/errors.ts'
import { POLICY_ERROR_STATUS } from '../policy/errors.ts'
import { TIER_ERROR_STATUS } from '../tier/errors.ts'

export const NodeApiErrorCode = {
  INVALID_REQUEST: 'ERR_INVALID_REQUEST',
  UNAUTHENTICATED: 'ERR_UNAUTHENTICATED',
  NOT_FOUND: 'ERR_NOT_FOUND',
  BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  RATE_LIMITED: 'ERR_RATE_LIMITED',
  INTERNAL: 'ERR_INTERNAL',
  /** The CLI could not reach the daemon that owns the home (client side). */
  NODE_UNAVAILABLE: 'ERR_NODE_UNAVAILABLE'
} as const

const STATUS: Record<string, number> = {
  [NodeApiErrorCode.INVALID_REQUEST]: 400,
  [NodeApiErrorCode.UNAUTHENTICATED]: 401,
  [NodeApiErrorCode.NOT_FOUND]: 404,
  [BucketErrorCode.BUCKET_NOT_FOUND]: 404,
  [BucketErrorCode.VERSION_NOT_FOUND]: 404,
  [StoreErrorCode.BLOCK_NOT_FOUND]: 404,
  [SnapshotErrorCode.NOT_A_VOLUME]: 400,
  [SnapshotErrorCode.UNREADABLE]: 400,
  [SnapshotErrorCode.UNSUPPORTED_FILE_TYPE]: 400,
  [SnapshotErrorCode.CHANGED_DURING_SNAPSHOT]: 409,
  [SnapshotErrorCode.DEST_NOT_EMPTY]: 409,
  [SnapshotErrorCode.RESTORE_MISMATCH]: 500,
  [StoreErrorCode.DISK_FULL]: 507,
  [StoreErrorCode.PACK_DAMAGED]: 500,
  [ProtocolErrorCode.HASH_MISMATCH]: 500,
  [ProtocolErrorCode.INVALID_MANIFEST]: 422,
  [ProtocolErrorCode.INVALID_BUCKET_NAME]: 400,
  [ProtocolErrorCode.INVALID_CID]: 400,
  [HomeErrorCode.HOME_LOCKED]: 409,
  ...SYNC_ERROR_STATUS,
  ...REGISTRY_LINK_ERROR_STATUS,
  ...POLICY_ERROR_STATUS,
  ...TIER_ERROR_STATUS,
  ERR_ABORTED: 499
}

export function statusForCode (code: string): number {
  return STATUS[code] ?? 500
}
