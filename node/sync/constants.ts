/** Defaults of sync, in one place; each is documented where its `Init` field is read. */

/** Gossip topic of a bucket's announcements: `/rok/bucket/1/<group>/<name>`. */
export const TOPIC_PREFIX = '/rok/bucket/1/'
/** How often a subscription asks peers for the head when no announcement arrived. */
export const POLL_INTERVAL_MS = 30_000
/** Largest chunk bytes fetched per batch; the store is flushed after each, so a killed sync loses at most one batch. */
export const CHUNK_BATCH_BYTES = 8 * 1024 * 1024
/**
 * Smallest default chunk batch: a version is cut into about BATCHES_PER_VERSION batches between this and CHUNK_BATCH_BYTES.
 * (512 KiB was tried in the six-subscriber multi-cloud test: the publisher sent 1.5 × instead of 2 ×, but each batch's
 * round trips to the fellows made the slowest subscriber later: 3.0 × instead of 2.6 × one subscriber's time.)
 */
export const MIN_CHUNK_BATCH_BYTES = 1024 * 1024
/** Batches a version is cut into by default, so subscribers syncing it at once can each start somewhere else. */
export const BATCHES_PER_VERSION = 64
/**
 * A syncing node that claims a batch restates what it holds and fetches to its fellows
 * (/rok/have/1.0.0) after this long without a push; a claim not restated for
 * HAVE_CLAIM_TTL_MS lapses (generous: on a loaded machine a push can take seconds).
 */
export const HAVE_REFRESH_MS = 1_500
export const HAVE_CLAIM_TTL_MS = 5_000
/** A change to what a node holds is pushed after this long, with the changes made meanwhile. */
export const HAVE_PUSH_DELAY_MS = 20
/**
 * A sync waiting for fellows to finish the batches they fetch gives up after this long
 * without news from any of them: the publisher then sends a batch a fellow claimed.
 */
export const SWARM_STALL_MS = 10_000
/**
 * A sync with a swarm but no word from a fellow yet keeps one batch from the publisher in
 * flight for this long (fellows starting with it speak within a moment), then takes two.
 */
export const SWARM_GRACE_MS = 300
/**
 * Batches fetched at once: the next batch starts while one finishes (its tail blocks, its
 * flush). With fellows around one of them is from the publisher. (4 was tried with the
 * swarm's statements: on a loaded machine fellows then served each batch slower and the
 * publisher sent 2.6 × the version instead of 1.5 ×.)
 */
export const CHUNK_BATCH_CONCURRENCY = 2
/** Chunks per batch at most (tiny chunks: keep the want list and the `has` lookups bounded). */
export const CHUNK_BATCH_COUNT = 1024
/** Manifest nodes fetched per exchange call while walking a level of the tree. */
export const NODE_BATCH_COUNT = 512
/** Longest a provider lookup in the DHT may take before the sync goes on with the peers it has. */
export const FIND_PROVIDERS_TIMEOUT_MS = 3_000
/** How often a running sync looks for fellow subscribers (gossip topic, connections it serves the bucket to). */
export const FELLOW_REFRESH_MS = 1_000
/** How often a running sync asks the DHT again for providers of the version it fetches (fellows provide it as they start). */
export const FELLOW_LOOKUP_MS = 3_000
/** Providers taken from the DHT per version. */
export const MAX_PROVIDERS = 16
/** Longest a DHT provide may take (publish and sync still succeed without it). */
export const PROVIDE_TIMEOUT_MS = 10_000
/** Deadline of a whole head request (open, ask, answer). */
export const HEAD_TIMEOUT_MS = 10_000
/** Deadline of pushing a new head to one peer (dial, send, close); a peer that misses it catches up by polling. */
export const ANNOUNCE_TIMEOUT_MS = 5_000
/** Deadline of the one dial that tells an unreachable peer from one that failed otherwise, after a fetch dropped it. */
export const REACH_TIMEOUT_MS = 5_000
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
