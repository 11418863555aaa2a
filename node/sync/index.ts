/**
 * Sync: how buckets move between Rok nodes — publish, subscribe, receive only what changed.
 *
 * Terms:
 * - **Publisher**: the node whose key signs a bucket's version records. A subscriber names
 *   it once (`rok subscribe G/N --peer ADDR/p2p/<id>`) and refuses records signed by anyone else.
 * - **Subscriber**: a node following a bucket. It records the publisher's versions, in
 *   order, and (when it allows them) serves them to fellow subscribers.
 * - **Allow list**: per bucket, the peers a node serves it to — head, records, manifest
 *   nodes and chunks. Default closed (`rok allow`, `rok deny`).
 * - **Grant**: with a registry (node/registry), a peer may also present a registry-signed
 *   grant for the bucket (`/rok/grant/1.0.0`); verified offline and cached until it
 *   expires, it opens the bucket to that peer through the same `authorize(peer, cid)` hook.
 * - **Reverse index** (refs): which buckets reference which block, written when a version
 *   is recorded. `authorize` asks it whether any bucket the peer is allowed references the
 *   CID; a CID no allowed or granted bucket references is refused (answered DONT_HAVE, like a miss).
 * - **Announcement**: the signed version record block, pushed by the publisher over
 *   `/rok/announce/1.0.0` to each peer it serves the bucket to (allow list, presented
 *   grants), and to nobody else: a peer that may not see the bucket never learns of a
 *   version. The bucket's gossip topic `/rok/bucket/1/<group>/<name>` is only where
 *   subscribers find each other (a record still arriving on it is validated and handled
 *   like a pushed one).
 * - **Unreachable**: a peer no connection could be opened to; a sync whose every peer is
 *   unreachable fails with ERR_PEER_UNREACHABLE (reach.ts), not with every block missing.
 * - **Head**: a bucket's newest version record. `/rok/head/1.0.0` asks one peer for it
 *   (allowed peers only): the catch-up after subscribing or restarting, and the fallback
 *   poll when an announcement was missed.
 * - **Provider**: a node holding a whole version; publishers and subscribers that finish
 *   a version provide its record CID in Rok's DHT (one record per version, not per chunk).
 * - **Fellows**: the other subscribers syncing or holding a bucket, found while a sync runs
 *   (the gossip topic, peers that presented a grant for it, DHT providers of the version:
 *   a subscriber provides a version as soon as it starts syncing it, and each fellow that
 *   speaks in the version's swarm).
 * - **Swarm**: while a node syncs a version it tells the connected peers it serves the bucket
 *   to which ranges of the version's chunk list it has stored and which it is fetching from
 *   the publisher (`/rok/have/1.0.0`, swarm.ts), when that changes and every second; it
 *   takes the same from them (only from peers allowed or granted the bucket). A node that
 *   holds the whole version answers a fellow's statement with one saying so.
 * - **Sync of a version**: verify the record; fetch parent records back to the local head;
 *   walk the manifest level by level fetching missing nodes; index its refs (so this node
 *   serves each chunk to fellows as soon as it has it); fetch missing chunks in bounded
 *   batches in a BatchOrder (batch-order.ts) told by the swarm: a batch a fellow holds comes
 *   from that fellow, each node keeps one batch nobody is on coming from the publisher
 *   (picked by its rank among the fellows, so they pick different ones), and a batch a
 *   fellow is fetching is waited for, so a slow publisher sends each chunk about once; the
 *   store is flushed after each batch (a killed sync resumes without refetching); then
 *   record the version. Each peer's share is reported with why it was asked (`publisher`,
 *   `subscriber`, `provider`).
 */
export { SyncService, type SyncServiceInit, type SyncHost } from './service.ts'
export { syncOperations } from './operations.ts'
export { syncChain, type ChainReport, type ChainSyncInit, type SyncEvent, type FetchFn, type FetchPeer } from './version-sync.ts'
export { AllowList } from './allow.ts'
export { RefIndex } from './refs.ts'
export { Subscriptions, peerOfAddr, type Subscription } from './subscriptions.ts'
export { openSyncState, type SyncState } from './state.ts'
export { announcementValidator, topicOf, bucketOfTopic } from './topic.ts'
export { announceHead, askHead, serveAnnouncements, serveHead, ANNOUNCE_PROTOCOL, HEAD_PROTOCOL } from './head.ts'
export { Swarms, type SwarmSession } from './swarm.ts'
export { explainUnreachable } from './reach.ts'
export { SyncErrorCode } from './errors.ts'
