/** Registry defaults, in one place; each is documented where `RegistryInit` takes it. */
export const DEFAULT_LISTEN_HOST = '127.0.0.1'
export const DEFAULT_LISTEN_PORT = 7447
/** Grants are short so that a revoked right stops working within one lifetime. */
export const DEFAULT_GRANT_TTL_MS = 10 * 60_000
/** A node that stops refreshing its provider record (it re-announces every third of this) drops out of provider lists. */
export const DEFAULT_PROVIDER_TTL_MS = 60 * 60_000
/** References only: the largest body is a version record (16 KiB) in base64. */
export const DEFAULT_BODY_LIMIT = 64 * 1024
export const DEFAULT_RATE_LIMIT_MAX = 600
export const DEFAULT_LOGIN_RATE_LIMIT_MAX = 10
export const DEFAULT_RATE_LIMIT_WINDOW_MS = 60_000
export const CHALLENGE_TTL_MS = 60_000
/** Outstanding node challenges kept at once; the oldest is dropped beyond this. */
export const MAX_PENDING_CHALLENGES = 10_000
/** Persist a token's last-use time at most this often (a write per request would be waste). */
export const TOKEN_TOUCH_INTERVAL_MS = 60_000
/** Token hashes kept in memory (known tokens only), so a request does not hash its token again. */
export const MAX_CACHED_TOKEN_HASHES = 10_000
export const DEFAULT_SEARCH_LIMIT = 20
export const DEFAULT_VERSION_LIST_LIMIT = 100
export const DEFAULT_AUDIT_LIMIT = 100
export const SHUTDOWN_TIMEOUT_MS = 10_000
/** Largest semi-space (MB) of the young generation once the server is serving. */
export const SERVING_SEMI_SPACE_MB = 8
export const REQUEST_TIMEOUT_MS = 15_000
