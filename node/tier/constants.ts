/** Defaults of the object-storage tier, in one place. */

/** A pack is sealed and uploaded once it holds this many bytes. */
export const PACK_TARGET_SIZE = 64 * 1024 * 1024
/** Objects larger than this go up as a multipart upload in parts of this size. */
export const MULTIPART_PART_SIZE = 32 * 1024 * 1024
/** Parts of one multipart upload sent at once. */
export const MULTIPART_QUEUE = 2
/** Packs uploaded at once by a push. */
export const PUSH_CONCURRENCY = 2
/** Ranged GETs in flight at once when fetching blocks. */
export const FETCH_CONCURRENCY = 4
/** Two wanted ranges of one pack closer than this are read with one GET. */
export const FETCH_MAX_GAP = 1024 * 1024
/** The longest single ranged GET. */
export const FETCH_MAX_SPAN = 32 * 1024 * 1024
/** Attempts per request before a transient failure becomes ERR_TIER_UNREACHABLE. */
export const RETRY_ATTEMPTS = 5
/** First retry delay; doubled (with jitter) up to RETRY_MAX_MS. */
export const RETRY_BASE_MS = 250
export const RETRY_MAX_MS = 8000
/** Bytes read from a pack's end to find its trailer in one GET (most trailers fit). */
export const TRAILER_PROBE = 256 * 1024
/** gc: rewrite a tier pack when less than this fraction of its bytes is live. */
export const REWRITE_BELOW = 0.5
/** gc: a deletion candidate is kept at least this long. */
export const DEFAULT_GRACE_MS = 60 * 60 * 1000
/** How often the daemon looks for versions to push (a cheap local check). */
export const AUTO_PUSH_INTERVAL_MS = 5 * 1000
/** Name of the tier settings file in the node home. */
export const CONFIG_FILE = 'tier.json'
/** Format marker object at the tier's root. */
export const TIER_FORMAT = 1
