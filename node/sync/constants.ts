/** Defaults of sync, in one place; each is documented where its `Init` field is read. */

/** Gossip topic of a bucket's announcements: `/rok/bucket/1/<group>/<name>`. */
export const TOPIC_PREFIX = '/rok/bucket/1/'
/** How often a subscription asks peers for the head when no announcement arrived. */
export const POLL_INTERVAL_MS = 30_000
/** Chunk bytes fetched per batch; the store is flushed after each, so a killed sync loses at most one batch. */
export const CHUNK_BATCH_BYTES = 8 * 1024 * 1024
/** Batches fetched at once: the next batch starts while one finishes (its tail blocks, its flush). */
export const CHUNK_BATCH_CONCURRENCY = 2
/** Chunks per batch at most (tiny chunks: keep the want list and the `has` lookups bounded). */
export const CHUNK_BATCH_COUNT = 1024
/** Manifest nodes fetched per exchange call while walking a level of the tree. */
export const NODE_BATCH_COUNT = 512
/** Longest a provider lookup in the DHT may take before the sync goes on with the peers it has. */
export const FIND_PROVIDERS_TIMEOUT_MS = 3_000
/** Providers taken from the DHT per version. */
export const MAX_PROVIDERS = 16
/** Longest a DHT provide may take (publish and sync still succeed without it). */
export const PROVIDE_TIMEOUT_MS = 10_000
/** Deadline of a whole head request (open, ask, answer). */
export const HEAD_TIMEOUT_MS = 10_000
/** Deadline of serving one inbound head request. */
export const HEAD_SERVE_TIMEOUT_MS = 5_000
export const HEAD_MAX_INBOUND_STREAMS = 8
export const HEAD_MAX_OUTBOUND_STREAMS = 8
/** Parent records fetched back to the local head at most in one sync (a longer gap syncs in several runs). */
export const MAX_VERSIONS_PER_SYNC = 10_000
/** Refs written per level batch. */
export const REF_BATCH = 1000
/** Levels of a manifest walked at most (folder nesting × list-tree depth); deeper is an invalid manifest. */
export const MAX_MANIFEST_LEVELS = 4096
