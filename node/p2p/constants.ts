/**
 * Defaults of the p2p layer, in one place. Each is applied once where its `Init` field
 * is read and documented there with `@default`.
 */

/** Prefix of Rok's own protocols. Rok's DHT is `/rok/kad/1.0.0`, never the public IPFS DHT. */
export const PROTOCOL_PREFIX = '/rok'
export const DHT_PROTOCOL = `${PROTOCOL_PREFIX}/kad/1.0.0`

// ---- connections ----
/** A federation node talks to tens of peers, not thousands: keep file descriptors and memory bounded. */
export const MAX_CONNECTIONS = 128
/** Inbound connections still in the handshake; stops a SYN/handshake flood from queueing up. */
export const MAX_INCOMING_PENDING_CONNECTIONS = 16
/** Inbound connections per second accepted from one host before it is refused. */
export const INBOUND_CONNECTION_THRESHOLD = 10
export const DIAL_TIMEOUT_MS = 10_000
export const INBOUND_UPGRADE_TIMEOUT_MS = 10_000
export const MAX_PARALLEL_DIALS = 32

// ---- muxer ----
/**
 * Yamux stream windows. The default 256 KiB window stalls a bulk stream every 256 KiB
 * waiting for a window update; 8 MiB keeps the pipe full. (Yamux 8 sizes a data frame by
 * what is queued and the send window, so a block sent whole travels as one frame; its
 * `maxMessageSize` option is not used for that.)
 */
export const YAMUX_INITIAL_STREAM_WINDOW = 8 * 1024 * 1024
export const YAMUX_MAX_STREAM_WINDOW = 16 * 1024 * 1024
/** Streams per connection, per direction, across all protocols. */
export const YAMUX_MAX_STREAMS = 256
/** A stream read buffer above this closes the stream (the window normally keeps it well below). */
export const YAMUX_MAX_READ_BUFFER_BYTES = 32 * 1024 * 1024
export const STREAM_INACTIVITY_TIMEOUT_MS = 60_000

// ---- per-protocol stream limits ----
export const DHT_MAX_INBOUND_STREAMS = 32
export const DHT_MAX_OUTBOUND_STREAMS = 64
export const GOSSIP_MAX_INBOUND_STREAMS = 4
export const GOSSIP_MAX_OUTBOUND_STREAMS = 4
export const IDENTIFY_MAX_STREAMS = 4
export const PING_MAX_STREAMS = 4

// ---- chunk exchange ----
/** Inbound exchange streams per connection: one per concurrent fetch a peer runs against us. */
export const EXCHANGE_MAX_INBOUND_STREAMS = 16
export const EXCHANGE_MAX_OUTBOUND_STREAMS = 16
/**
 * Wants a server holds for one stream before it calls the peer a flooder and closes the
 * stream. The client's window (EXCHANGE_WINDOW) stays far below it.
 */
export const EXCHANGE_MAX_PENDING_WANTS = 4096
/** Wants one server stream looks up and sends concurrently (store reads overlap the network). */
export const EXCHANGE_SERVE_CONCURRENCY = 8
/**
 * Bytes a client keeps requested-but-unanswered per peer stream. The window in blocks
 * follows from it and the sizes seen so far: 256 wants for 64 KiB chunks, 16 for 1 MiB
 * blocks, so the pipe stays full without a worst case of 4 MiB × window in memory.
 */
export const EXCHANGE_INFLIGHT_BYTES = 16 * 1024 * 1024
/** Block size assumed before the first block of a fetch arrives. */
export const EXCHANGE_ASSUMED_BLOCK_BYTES = 256 * 1024
export const EXCHANGE_MIN_WINDOW = 4
/** Kept well under EXCHANGE_MAX_PENDING_WANTS so an honest client is never taken for a flooder. */
export const EXCHANGE_MAX_WINDOW = 1024
/** Wants are sent when at least window/EXCHANGE_WANT_BATCH_DIVISOR slots are free (batched want messages). */
export const EXCHANGE_WANT_BATCH_DIVISOR = 4
/** An exchange stream with no message either way for this long is closed. */
export const EXCHANGE_IDLE_TIMEOUT_MS = 30_000
/** Longest time to look up one want (authorization + store read) on the server. */
export const EXCHANGE_WANT_TIMEOUT_MS = 20_000
/** Longest time to open an exchange stream to a peer. */
export const EXCHANGE_OPEN_TIMEOUT_MS = 10_000
/** Bytes received and waiting for verification or storage per fetch before reading pauses. */
export const EXCHANGE_MAX_UNSTORED_BYTES = 64 * 1024 * 1024
/**
 * Verify blocks received over the data channel on a worker thread, where they lie in
 * shared memory (see BlockVerifier). It takes SHA-256 off the event loop that reads the
 * streams: that loop's CPU per GiB fell from ~3.6 to ~2.6 s, which is what limits a
 * transfer on a node with a core to spare. On two shared cores, already saturated, the
 * throughput stayed the same (medians 262 vs 268 MB/s over six pairs), with steadier runs.
 * An earlier worker, handed copies of the blocks, cost what it saved.
 */
export const EXCHANGE_HASH_WORKER = true

// ---- exchange data channel ----
/**
 * Move block payloads over a direct TLS 1.3 socket negotiated over libp2p (see
 * exchange/data-channel/): one TLS layer with large records instead of TLS or Noise under
 * yamux, ~2-3x the throughput per CPU-second. Off: every fetch uses libp2p streams.
 */
export const DATA_CHANNEL_ENABLED = true
/** From asking a peer for an offer to its ACCEPT; past it the fetch uses a libp2p stream. */
export const DATA_CHANNEL_CONNECT_TIMEOUT_MS = 3_000
/** A peer's channel that failed is tried again after this long (its fetches use streams meanwhile). */
export const DATA_CHANNEL_RETRY_MS = 60_000
/** A pooled client socket unused this long is closed (below the server's EXCHANGE_IDLE_TIMEOUT_MS). */
export const DATA_CHANNEL_IDLE_MS = 10_000
/** A ticket not presented within this long is void. */
export const DATA_CHANNEL_TICKET_TTL_MS = 10_000
/** From TCP accept to a valid ticket on the server (TLS handshake included). */
export const DATA_CHANNEL_HANDSHAKE_TIMEOUT_MS = 5_000
export const DATA_CHANNEL_MAX_TICKETS = 256
/** Data channel sockets a node holds open at once, serving all peers. */
export const DATA_CHANNEL_MAX_CONNECTIONS = 256
export const DATA_CHANNEL_MAX_INBOUND_STREAMS = 8
/**
 * TLS 1.3 suites of the data channel, preferred first. AES-128-GCM (RFC 8446's mandatory
 * suite) encrypts ~15% faster than Node's default AES-256-GCM, and both ends of a
 * transfer pay for it on every byte; the others remain for peers that insist.
 */
export const DATA_CHANNEL_CIPHERS = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256'
