/** Defaults of the node's registry link, in one place; each is documented on `RegistryLinkInit`. */

/** First retry delay after the registry failed (outbox delivery, registration, renewal). */
export const RETRY_MIN_MS = 1_000
/** Longest retry delay: the backoff doubles up to this. */
export const RETRY_MAX_MS = 30_000
/** How often the link looks for work (a due retry, a grant to renew). */
export const TICK_MS = 1_000
/** Provider lifetime assumed when the registry does not say (it drops records not refreshed within it). */
export const DEFAULT_PROVIDER_TTL_MS = 60 * 60_000
/** Refresh this node's provider records once this fraction of their lifetime has passed. */
export const PROVIDER_REFRESH_FRACTION = 1 / 3
/** Renew a held grant once this fraction of its lifetime has passed. */
export const RENEW_AT_FRACTION = 0.5
/** Deadline of presenting a grant to one peer (open, push, answer). */
export const PRESENT_TIMEOUT_MS = 5_000
/** Deadline of serving one inbound grant push. */
export const GRANT_SERVE_TIMEOUT_MS = 5_000
export const GRANT_MAX_INBOUND_STREAMS = 4
export const GRANT_MAX_OUTBOUND_STREAMS = 4
/** Peers whose presented grants are cached at once; the oldest entry goes beyond it. */
export const MAX_GRANT_PEERS = 4096
/** Buckets cached per peer at once; the oldest goes beyond it. */
export const MAX_GRANTS_PER_PEER = 256
/** References kept in the outbox at most; a publish beyond it fails rather than grow the queue without end. */
export const MAX_OUTBOX_ENTRIES = 100_000
/** How long a publish waits for the registry to record its reference before calling it queued. */
export const PUBLISH_RECORD_TIMEOUT_MS = 5_000
/** Pinned registry key, in the home. */
export const PIN_FILE = 'registry-key.json'
