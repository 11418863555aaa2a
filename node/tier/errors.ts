/** Error codes of the object-storage tier. Each is documented in docs/ERRORS.md. */
export const TierErrorCode = {
  /** No tier is configured for this node (`rok tier set`). */
  NOT_CONFIGURED: 'ERR_TIER_NOT_CONFIGURED',
  /** A tier setting is invalid (endpoint, bucket, prefix, region). */
  INVALID_CONFIG: 'ERR_TIER_INVALID_CONFIG',
  /** The object store did not answer, or kept failing, after every retry. */
  UNREACHABLE: 'ERR_TIER_UNREACHABLE',
  /** The object store refused the credentials or the request. */
  ACCESS_DENIED: 'ERR_TIER_ACCESS_DENIED',
  /** The configured object-store bucket does not exist. */
  NO_SUCH_BUCKET: 'ERR_TIER_NO_SUCH_BUCKET',
  /** An object the tier expects is not in the object store. */
  OBJECT_NOT_FOUND: 'ERR_TIER_OBJECT_NOT_FOUND',
  /** A block is neither local nor recorded in the tier. */
  BLOCK_NOT_IN_TIER: 'ERR_TIER_BLOCK_NOT_IN_TIER',
  /** An object in the tier is corrupt or truncated (bad pack, bad block). */
  DAMAGED: 'ERR_TIER_DAMAGED',
  /** The requested version is not in the object store. */
  VERSION_NOT_FOUND: 'ERR_TIER_VERSION_NOT_FOUND'
} as const

/** The HTTP status the node API answers each code with (see docs/ERRORS.md). */
export const TIER_ERROR_STATUS: Record<string, number> = {
  [TierErrorCode.NOT_CONFIGURED]: 409,
  [TierErrorCode.INVALID_CONFIG]: 400,
  [TierErrorCode.UNREACHABLE]: 503,
  [TierErrorCode.ACCESS_DENIED]: 403,
  [TierErrorCode.NO_SUCH_BUCKET]: 404,
  [TierErrorCode.OBJECT_NOT_FOUND]: 404,
  [TierErrorCode.BLOCK_NOT_IN_TIER]: 404,
  [TierErrorCode.DAMAGED]: 500,
  [TierErrorCode.VERSION_NOT_FOUND]: 404
}
