/** Error codes of sync: allow lists, subscriptions, announcements and the sync of a version. */
export const SyncErrorCode = {
  /** A sync verb needs the node daemon running (it owns the libp2p host). */
  NODE_NOT_RUNNING: 'ERR_NODE_NOT_RUNNING',
  /** The bucket is not subscribed on this node. */
  NOT_SUBSCRIBED: 'ERR_NOT_SUBSCRIBED',
  /** A subscription's peer address does not name a peer (`/p2p/<id>`), or names this node. */
  INVALID_PEER: 'ERR_INVALID_PEER',
  /** A record is signed by someone other than the bucket's publisher we subscribed to. */
  WRONG_PUBLISHER: 'ERR_WRONG_PUBLISHER',
  /** A record does not continue the local history (different record at the same seq, or a broken parent chain). */
  HISTORY_CONFLICT: 'ERR_HISTORY_CONFLICT',
  /** No reachable peer would tell us the bucket's head (all refused, had none, or were down). */
  NO_HEAD: 'ERR_NO_HEAD',
  /** Blocks of a version could not be fetched from any peer. */
  BLOCKS_MISSING: 'ERR_BLOCKS_MISSING',
  /** Publishing a bucket whose versions come from another publisher. */
  NOT_PUBLISHER: 'ERR_NOT_PUBLISHER',
  /** A head request to a peer failed (stream, deadline, protocol). */
  HEAD_FAILED: 'ERR_HEAD_FAILED',
  /** Subscribing without an address on a node started without --registry. */
  NO_REGISTRY: 'ERR_NO_REGISTRY',
  /** No connection could be opened to a peer (refused, no route, no address); a sync fails with it when no peer it asked could be reached. */
  PEER_UNREACHABLE: 'ERR_PEER_UNREACHABLE',
  /** A background sync failed with an error that carries no code (status shows it). */
  SYNC_FAILED: 'ERR_SYNC_FAILED'
} as const

export const SYNC_ERROR_STATUS: Record<string, number> = {
  [SyncErrorCode.PEER_UNREACHABLE]: 502,
  [SyncErrorCode.NODE_NOT_RUNNING]: 409,
  [SyncErrorCode.NOT_SUBSCRIBED]: 404,
  [SyncErrorCode.INVALID_PEER]: 400,
  [SyncErrorCode.WRONG_PUBLISHER]: 409,
  [SyncErrorCode.HISTORY_CONFLICT]: 409,
  [SyncErrorCode.NO_HEAD]: 502,
  [SyncErrorCode.BLOCKS_MISSING]: 502,
  [SyncErrorCode.NOT_PUBLISHER]: 409,
  [SyncErrorCode.HEAD_FAILED]: 502,
  [SyncErrorCode.NO_REGISTRY]: 409
}
