/**
 * The node's local HTTP API, version 1 (paths under `/v1`): one TypeBox schema per body,
 * query and response. The daemon validates and serializes with them and builds its
 * OpenAPI document from them; the CLI's client takes its types from them.
 *
 * Long operations (snapshot, restore, verify) answer with NDJSON: zero or more
 * `{"type":"progress",...}` lines, then one `{"type":"result","result":...}` or
 * `{"type":"error","error":{code,message}}` line.
 */
import { Type, type Static } from 'typebox'
import type { PolicyOperations } from './policy-api.ts'
import type { TierOperations } from './tier-api.ts'

export const NODE_API_PREFIX = '/v1'
export { NDJSON } from './content-types.ts'

const BUCKET_PATTERN = '^(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}/(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}$'
const VERSION_REF_PATTERN = '^(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}/(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}(@[1-9][0-9]{0,14})?$'
const TEXT_PATTERN = '^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f]*$'

export const BucketName = Type.String({ pattern: BUCKET_PATTERN, maxLength: 129, description: 'group/name' })
export const VersionRef = Type.String({ pattern: VERSION_REF_PATTERN, maxLength: 145, description: 'group/name[@seq]' })
/** An absolute path on the node's filesystem (the daemon's working folder is not the caller's). */
export const AbsolutePath = Type.String({ pattern: '^/[^\\u0000]*$', maxLength: 4096, description: 'absolute path on the node' })
export const Message = Type.String({ pattern: TEXT_PATTERN, maxLength: 4096 })
export const Seq = Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })

export const ErrorBody = Type.Object({ code: Type.String(), message: Type.String(), details: Type.Optional(Type.Record(Type.String(), Type.Unknown())) })
export type ErrorBody = Static<typeof ErrorBody>

export const NodeId = Type.Object({
  peerId: Type.String(),
  addrs: Type.Array(Type.String()),
  api: Type.String()
})
export type NodeId = Static<typeof NodeId>

export const NodeStatus = Type.Object({
  peerId: Type.String(),
  addrs: Type.Array(Type.String()),
  uptimeSeconds: Type.Number(),
  connections: Type.Integer(),
  peers: Type.Array(Type.String())
})
export type NodeStatus = Static<typeof NodeStatus>

/** Dial a peer through the node and ping it (`rok doctor`): a multiaddr ending in /p2p/ID, or a peer ID the node knows addresses for. */
export const PingBody = Type.Object({ peer: Type.String({ minLength: 1, maxLength: 1024, pattern: TEXT_PATTERN }) }, { additionalProperties: false })
export type PingBody = Static<typeof PingBody>
export const PingOutcome = Type.Object({
  peer: Type.String(),
  reachable: Type.Boolean(),
  rttMs: Type.Optional(Type.Number()),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }))
})
export type PingOutcome = Static<typeof PingOutcome>

export const BucketSummary = Type.Object({ bucket: Type.String(), versions: Type.Integer(), head: Type.Integer(), updatedAt: Type.Number() })
export type BucketSummary = Static<typeof BucketSummary>

export const VersionInfo = Type.Object({
  bucket: Type.String(),
  seq: Type.Integer(),
  cid: Type.String(),
  root: Type.String(),
  kind: Type.String(),
  size: Type.Number(),
  createdAt: Type.String(),
  publisher: Type.String(),
  message: Type.String()
})
export type VersionInfo = Static<typeof VersionInfo>

export const SnapshotBody = Type.Object({
  path: AbsolutePath,
  bucket: BucketName,
  message: Type.Optional(Message),
  /** Reuse unchanged files from the last version by size, mtime and ctime alone, whatever their inode (restic's --ignore-inode). */
  ignoreInode: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type SnapshotBody = Static<typeof SnapshotBody>

export const SnapshotOutcome = Type.Object({
  bucket: Type.String(),
  seq: Type.Integer(),
  cid: Type.String(),
  root: Type.String(),
  kind: Type.String(),
  size: Type.Number(),
  files: Type.Integer(),
  dirs: Type.Integer(),
  chunks: Type.Integer(),
  newChunks: Type.Integer(),
  newBytes: Type.Number(),
  reusedBytes: Type.Number({ description: 'bytes of files unchanged since the previous version, not read again' }),
  manifestNodes: Type.Integer(),
  seconds: Type.Number()
})
export type SnapshotOutcome = Static<typeof SnapshotOutcome>

export const RestoreBody = Type.Object({ version: VersionRef, dest: AbsolutePath, force: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
export type RestoreBody = Static<typeof RestoreBody>

export const RestoreOutcome = Type.Object({
  bucket: Type.String(),
  seq: Type.Integer(),
  kind: Type.String(),
  bytes: Type.Number(),
  files: Type.Integer(),
  dirs: Type.Integer(),
  dest: Type.String()
})
export type RestoreOutcome = Static<typeof RestoreOutcome>

export const DiffQuery = Type.Object({ from: VersionRef, to: VersionRef }, { additionalProperties: false })
export const Change = Type.Object({
  kind: Type.String(),
  path: Type.String(),
  type: Type.String(),
  bytes: Type.Number(),
  what: Type.Optional(Type.Array(Type.String()))
})
export const DiffOutcome = Type.Object({
  from: Type.String(),
  to: Type.String(),
  summary: Type.Object({ added: Type.Integer(), removed: Type.Integer(), changed: Type.Integer(), bytesDiffering: Type.Number() }),
  changes: Type.Array(Change)
})
export type DiffOutcome = Static<typeof DiffOutcome>

export const VerifyReport = Type.Object({
  ok: Type.Boolean(),
  blocks: Type.Integer(),
  bytes: Type.Number(),
  versions: Type.Integer(),
  damaged: Type.Array(Type.Object({
    cid: Type.String(),
    problem: Type.String(),
    detail: Type.Optional(Type.String()),
    affects: Type.Array(Type.Object({ bucket: Type.String(), seq: Type.Integer(), path: Type.String() }))
  })),
  repaired: Type.Optional(Type.Object({
    unindexed: Type.Integer({ description: 'corrupt or unreadable blocks taken out of the index' }),
    versions: Type.Array(Type.Object({ bucket: Type.String(), seq: Type.Integer() }), { description: 'versions marked damaged: their bucket\'s next sync fetches what they lack' })
  }))
})
export type VerifyReport = Static<typeof VerifyReport>

export const VerifyBody = Type.Object({
  /** Unindex corrupt blocks and mark the versions damage breaks, for syncs to heal. */
  repair: Type.Optional(Type.Boolean())
}, { additionalProperties: false })
export type VerifyBody = Static<typeof VerifyBody>

export const GcBody = Type.Object({
  dryRun: Type.Optional(Type.Boolean()),
  /** Candidates younger than this are kept (two-phase deletion). Default 3600. */
  graceSeconds: Type.Optional(Type.Number({ minimum: 0, maximum: 10 * 365 * 86400 }))
}, { additionalProperties: false })
export type GcBody = Static<typeof GcBody>
export const GcReport = Type.Object({
  dryRun: Type.Boolean(),
  graceSeconds: Type.Number(),
  liveBlocks: Type.Integer(),
  liveBytes: Type.Number(),
  deadBlocks: Type.Integer({ description: 'blocks no retained version references' }),
  deadBytes: Type.Number(),
  markedBlocks: Type.Integer({ description: 'newly marked as deletion candidates' }),
  rescuedBlocks: Type.Integer({ description: 'candidates referenced or put again since they were marked' }),
  waitingBlocks: Type.Integer({ description: 'candidates still inside the grace period' }),
  waitingBytes: Type.Number(),
  sweptBlocks: Type.Integer({ description: 'deleted now (dry run: would be)' }),
  sweptBytes: Type.Number(),
  packsRemoved: Type.Integer(),
  packsRewritten: Type.Integer(),
  packBytesBefore: Type.Number(),
  packBytesAfter: Type.Number(),
  seconds: Type.Number(),
  /** The object-storage tier's sweep (same live set, its own candidates and grace period), when the node has a tier. */
  tier: Type.Optional(Type.Object({
    packsMarked: Type.Integer(),
    packsDeleted: Type.Integer(),
    bytesDeleted: Type.Number(),
    packsRewritten: Type.Integer(),
    packsRescued: Type.Integer(),
    candidatesPending: Type.Integer(),
    versionsRemoved: Type.Integer()
  }))
})
export type GcReport = Static<typeof GcReport>

export const StoreStats = Type.Object({
  peerId: Type.String(),
  buckets: Type.Integer(),
  versions: Type.Integer(),
  blocks: Type.Integer(),
  storedBytes: Type.Number(),
  packBytes: Type.Number(),
  packs: Type.Integer(),
  logicalBytes: Type.Number(),
  dedupRatio: Type.Number()
})
export type StoreStats = Static<typeof StoreStats>

/** Progress of a long operation, as sent in NDJSON `progress` lines. */
export interface OperationProgress {
  /** The step of a multi-step operation (gc: mark, scan, sweep, compact). */
  phase?: string
  bytes: number
  total?: number
  files?: number
  blocks?: number
}

/**
 * What the CLI does with a node, whether the home is opened in-process or a daemon owns it
 * and answers over HTTP. Both implementations return the same JSON-shaped values.
 */
export interface NodeOperations extends PolicyOperations, TierOperations {
  peerId: () => Promise<string>
  snapshot: (body: SnapshotBody, options?: OperationOptions) => Promise<SnapshotOutcome>
  restore: (body: RestoreBody, options?: OperationOptions) => Promise<RestoreOutcome>
  buckets: () => Promise<BucketSummary[]>
  versions: (bucket: string) => Promise<VersionInfo[]>
  diff: (from: string, to: string, options?: { signal?: AbortSignal }) => Promise<DiffOutcome>
  verify: (body: VerifyBody, options?: OperationOptions) => Promise<VerifyReport>
  gc: (body: GcBody, options?: OperationOptions) => Promise<GcReport>
  stats: () => Promise<StoreStats>
}

export interface OperationOptions {
  signal?: AbortSignal
  onProgress?: (p: OperationProgress) => void
}

// ---- sync: publish, subscribe, allow, status (served only by a running daemon) ----

export const PeerIdText = Type.String({ pattern: '^[1-9A-HJ-NP-Za-km-z]{32,128}$', description: 'a libp2p peer ID (base58btc), as `rok id` prints it' })
export const MultiaddrText = Type.String({ pattern: '^/[^\\u0000-\\u001f]*$', maxLength: 1024, description: 'a multiaddr ending in /p2p/<peer id>' })

export const PublishBody = Type.Object({ path: AbsolutePath, bucket: BucketName, message: Type.Optional(Message) }, { additionalProperties: false })
export type PublishBody = Static<typeof PublishBody>

const ErrorInfo = Type.Object({ code: Type.String(), message: Type.String() })

/** What became of a published version's reference in the registry (nodes started with --registry). */
export const PublishRegistryOutcome = Type.Object({
  /** `recorded`: the registry has it; `queued`: kept in the home's outbox and delivered when the registry answers. */
  state: Type.Union([Type.Literal('recorded'), Type.Literal('queued')]),
  /** References still waiting in the outbox. */
  pending: Type.Integer(),
  error: Type.Optional(ErrorInfo)
})
export type PublishRegistryOutcome = Static<typeof PublishRegistryOutcome>

export const PublishOutcome = Type.Object({
  ...SnapshotOutcome.properties,
  registry: Type.Optional(PublishRegistryOutcome),
  /** Peers the announcement was sent to directly (gossip relays it further). */
  announcedTo: Type.Array(Type.String()),
  /** Whether the version record was provided in the DHT. */
  provided: Type.Boolean(),
  /** Peers allowed to fetch this bucket. */
  allowed: Type.Array(Type.String())
})
export type PublishOutcome = Static<typeof PublishOutcome>

/** Without `peer`, the node asks its registry for a grant, the publisher and the providers. */
export const SubscribeBody = Type.Object({ bucket: BucketName, peer: Type.Optional(MultiaddrText) }, { additionalProperties: false })
export type SubscribeBody = Static<typeof SubscribeBody>

export const SyncBody = Type.Object({ bucket: BucketName }, { additionalProperties: false })
export type SyncBody = Static<typeof SyncBody>

export const AllowBody = Type.Object({ bucket: BucketName, peer: PeerIdText }, { additionalProperties: false })
export type AllowBody = Static<typeof AllowBody>
export const AllowOutcome = Type.Object({ bucket: Type.String(), peers: Type.Array(Type.String()) })
export type AllowOutcome = Static<typeof AllowOutcome>

export const SyncPeerShare = Type.Object({
  peer: Type.String(),
  blocks: Type.Integer(),
  bytes: Type.Number(),
  /**
   * Why this source was asked: the bucket's publisher, a fellow subscriber on the bucket's
   * topic, a DHT provider of the version, or (peer 'object-store') this node's
   * object-storage tier, for blocks no peer had.
   */
  why: Type.Union([Type.Literal('publisher'), Type.Literal('subscriber'), Type.Literal('provider'), Type.Literal('object-store')]),
  dropped: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }))
})
export type SyncPeerShare = Static<typeof SyncPeerShare>

export const SyncReport = Type.Object({
  bucket: Type.String(),
  fromSeq: Type.Integer(),
  toSeq: Type.Integer(),
  versions: Type.Integer(),
  blocks: Type.Integer(),
  bytes: Type.Number(),
  recordBytes: Type.Number(),
  nodeBytes: Type.Number(),
  chunkBytes: Type.Number(),
  chunks: Type.Integer(),
  /** Versions between the local head and the target that no peer serves any more (the publisher forgot them): skipped. */
  skipped: Type.Optional(Type.Integer()),
  /** Versions marked damaged (rok verify --repair) that the sync completed again, and those no peer could. */
  healed: Type.Optional(Type.Integer()),
  unhealed: Type.Optional(Type.Integer()),
  seconds: Type.Number(),
  peers: Type.Array(SyncPeerShare)
})
export type SyncReport = Static<typeof SyncReport>

export const SubscriptionStatus = Type.Object({
  bucket: Type.String(),
  publisher: Type.String(),
  addr: Type.String(),
  since: Type.String(),
  localHead: Type.Integer(),
  remoteHead: Type.Integer(),
  lag: Type.Integer(),
  /** Versions rok verify --repair marked damaged, newest first: the next sync fetches what they lack. */
  damaged: Type.Optional(Type.Array(Type.Integer())),
  state: Type.Union([Type.Literal('idle'), Type.Literal('syncing'), Type.Literal('error')]),
  progress: Type.Optional(Type.Object({ seq: Type.Integer(), size: Type.Number(), walkedBytes: Type.Number(), bytes: Type.Number(), storedBytes: Type.Number() })),
  last: Type.Optional(SyncReport),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }))
})
export type SubscriptionStatus = Static<typeof SubscriptionStatus>

export const RegistryLinkStatus = Type.Object({
  url: Type.String(),
  /** This node proved its key and recorded its addresses with the registry (since it started). */
  registered: Type.Boolean(),
  /** The registry's key is pinned in the home, so grants can be checked offline. */
  keyPinned: Type.Boolean(),
  /** Why the last registration attempt failed. */
  error: Type.Optional(ErrorInfo),
  outbox: Type.Object({
    pending: Type.Integer(),
    delivered: Type.Integer(),
    oldest: Type.Optional(Type.Object({ bucket: Type.String(), seq: Type.Integer(), queuedAt: Type.String() })),
    lastError: Type.Optional(ErrorInfo),
    nextAttemptAt: Type.Optional(Type.String())
  }),
  /** Grants this node holds for its registry subscriptions. */
  grants: Type.Array(Type.Object({ bucket: Type.String(), rights: Type.Array(Type.String()), expires: Type.String(), error: Type.Optional(ErrorInfo) }))
})
export type RegistryLinkStatus = Static<typeof RegistryLinkStatus>

export const SyncStatus = Type.Object({
  peerId: Type.String(),
  registry: Type.Optional(RegistryLinkStatus),
  subscriptions: Type.Array(SubscriptionStatus),
  published: Type.Array(Type.Object({ bucket: Type.String(), head: Type.Integer(), allowed: Type.Array(Type.String()) })),
  served: Type.Object({
    blocks: Type.Integer(),
    bytes: Type.Number(),
    refused: Type.Integer(),
    streams: Type.Integer(),
    /** The node's upload cap in bytes per second (`--max-upload-rate`); absent when uncapped. */
    maxUploadRate: Type.Optional(Type.Number())
  })
})
export type SyncStatus = Static<typeof SyncStatus>

export const UnsubscribeOutcome = Type.Object({ bucket: Type.String(), removed: Type.Boolean() })
export type UnsubscribeOutcome = Static<typeof UnsubscribeOutcome>

/** Sync operations: only a running daemon (it owns the libp2p host) implements them. */
export interface SyncOperations {
  publish: (body: PublishBody, options?: OperationOptions) => Promise<PublishOutcome>
  subscribe: (body: SubscribeBody) => Promise<SubscriptionStatus>
  unsubscribe: (bucket: string) => Promise<UnsubscribeOutcome>
  sync: (body: SyncBody, options?: OperationOptions) => Promise<SyncReport>
  allow: (body: AllowBody) => Promise<AllowOutcome>
  deny: (body: AllowBody) => Promise<AllowOutcome>
  syncStatus: () => Promise<SyncStatus>
}
