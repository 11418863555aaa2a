/**
 * The registry's HTTP API, version 1 (paths under `/v1`): one TypeBox schema per body,
 * query and response. The registry validates and serializes with them and builds its
 * OpenAPI document from them; the typed client takes its types from them. Every string
 * and list is bounded, so no request can carry bulk data (the registry never holds chunks).
 */
import { Type, type Static } from 'typebox'

export const API_PREFIX = '/v1'

// A name part: lowercase, digits, '.', '-', '_', starting with a letter or digit, no '..'.
const NAME_PATTERN = '^(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}$'
// Text shown to people: no control characters (they garble terminals and logs).
const TEXT_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$'
const BASE64_PATTERN = '^[A-Za-z0-9+/]*={0,2}$'

export const Name = Type.String({ pattern: NAME_PATTERN, minLength: 1, maxLength: 64, description: 'lowercase letters, digits, ".", "-", "_"' })
export const PeerIdString = Type.String({ pattern: '^[1-9A-HJ-NP-Za-km-z]{40,100}$', description: 'libp2p peer ID (base58btc)' })
export const Multiaddr = Type.String({ pattern: '^/[\\x21-\\x7e]{1,255}$', maxLength: 256 })
export const Tag = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,31}$', maxLength: 32 })
export const Description = Type.String({ pattern: TEXT_PATTERN, maxLength: 1000 })
export const Visibility = Type.Enum(['public', 'private'])
export const Role = Type.Enum(['owner', 'publisher', 'reader'])
export const Right = Type.Enum(['read', 'publish'])
export const Effect = Type.Enum(['allow', 'deny'])
export const Subject = Type.String({ pattern: '^(user|group):(?!.*\\.\\.)[a-z0-9][a-z0-9._-]{0,63}$', description: "'user:NAME' or 'group:NAME'" })
export const IsoTime = Type.String({ format: 'date-time' })
export const Base64 = (maxLength: number): ReturnType<typeof Type.String> => Type.String({ pattern: BASE64_PATTERN, maxLength })

export type Visibility = Static<typeof Visibility>
export type Role = Static<typeof Role>
export type Right = Static<typeof Right>
export type Effect = Static<typeof Effect>

export const ErrorBody = Type.Object({
  code: Type.String(),
  message: Type.String(),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown()))
})
export type ErrorBody = Static<typeof ErrorBody>

// --- registry and identity ---------------------------------------------------------

export const RegistryInfo = Type.Object({
  peerId: Type.String({ description: 'peer ID form of the registry signing key' }),
  publicKey: Type.String({ description: 'registry Ed25519 public key, libp2p protobuf, base64' }),
  grantTtlMs: Type.Integer(),
  providerTtlMs: Type.Integer({ description: 'a provider record not refreshed within this is no longer listed; nodes refresh every third of it' })
})
export type RegistryInfo = Static<typeof RegistryInfo>

export const Identity = Type.Object({ user: Type.String(), admin: Type.Boolean() })
export type Identity = Static<typeof Identity>

export const CreateUserBody = Type.Object({ name: Name, admin: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
export type CreateUserBody = Static<typeof CreateUserBody>

export const NewToken = Type.Object({ user: Type.String(), id: Type.String(), token: Type.String({ description: 'shown once; only its hash is stored' }) })
export type NewToken = Static<typeof NewToken>

export const TokenInfo = Type.Object({
  id: Type.String(),
  user: Type.String(),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()])
})
export type TokenInfo = Static<typeof TokenInfo>
export const TokenList = Type.Object({ tokens: Type.Array(TokenInfo) })
export const TokenIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f]{16}$' }) })

// --- groups --------------------------------------------------------------------------

export const CreateGroupBody = Type.Object({
  name: Name,
  visibility: Visibility,
  description: Type.Optional(Description)
}, { additionalProperties: false })
export type CreateGroupBody = Static<typeof CreateGroupBody>

export const UpdateGroupBody = Type.Object({
  visibility: Type.Optional(Visibility),
  description: Type.Optional(Description)
}, { additionalProperties: false, minProperties: 1 })
export type UpdateGroupBody = Static<typeof UpdateGroupBody>

export const Member = Type.Object({ user: Type.String(), role: Role })
export type Member = Static<typeof Member>

export const Group = Type.Object({
  name: Type.String(),
  visibility: Visibility,
  description: Type.String(),
  createdAt: Type.String(),
  members: Type.Array(Member)
})
export type Group = Static<typeof Group>

export const GroupParams = Type.Object({ group: Name })
export const MemberParams = Type.Object({ group: Name, user: Name })
export const SetMemberBody = Type.Object({ role: Role }, { additionalProperties: false })

// --- buckets ---------------------------------------------------------------------------

export const CreateBucketBody = Type.Object({
  name: Name,
  description: Type.Optional(Description),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 20, uniqueItems: true })),
  visibility: Type.Optional(Visibility)
}, { additionalProperties: false })
export type CreateBucketBody = Static<typeof CreateBucketBody>

export const UpdateBucketBody = Type.Object({
  description: Type.Optional(Description),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 20, uniqueItems: true })),
  visibility: Type.Optional(Visibility)
}, { additionalProperties: false, minProperties: 1 })
export type UpdateBucketBody = Static<typeof UpdateBucketBody>

export const Bucket = Type.Object({
  bucket: Type.String({ description: 'group/name' }),
  group: Type.String(),
  name: Type.String(),
  description: Type.String(),
  tags: Type.Array(Type.String()),
  visibility: Visibility,
  createdAt: Type.String(),
  updatedAt: Type.String(),
  latestSeq: Type.Integer({ description: '0 before the first version' })
})
export type Bucket = Static<typeof Bucket>

export const BucketParams = Type.Object({ group: Name, name: Name })

export const Rule = Type.Object({ subject: Subject, right: Right, effect: Effect }, { additionalProperties: false })
export type Rule = Static<typeof Rule>
export const RuleList = Type.Object({ rules: Type.Array(Rule) })
export type RuleList = Static<typeof RuleList>

// --- versions --------------------------------------------------------------------------

export const AppendVersionBody = Type.Object({
  record: Base64(24 * 1024)
}, { additionalProperties: false, description: 'a signed version record (protocol/record.ts), DAG-CBOR, base64' })

export const VersionRef = Type.Object({
  bucket: Type.String(),
  seq: Type.Integer(),
  cid: Type.String({ description: 'CID of the signed version record' }),
  root: Type.String(),
  parent: Type.Union([Type.String(), Type.Null()]),
  kind: Type.Enum(['tree', 'image']),
  size: Type.Integer(),
  publisher: Type.String(),
  createdAt: Type.Integer(),
  message: Type.String(),
  signature: Type.String({ description: 'base64' }),
  recordedAt: Type.String()
})
export type VersionRef = Static<typeof VersionRef>
export const VersionWithRecord = Type.Object({ ...VersionRef.properties, record: Type.String({ description: 'signed record bytes, base64' }) })
export type VersionWithRecord = Static<typeof VersionWithRecord>

export const VersionList = Type.Object({ versions: Type.Array(VersionRef), next: Type.Union([Type.Integer(), Type.Null()]) })
export type VersionList = Static<typeof VersionList>
export const VersionListQuery = Type.Object({
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }))
}, { additionalProperties: false })
export const VersionParams = Type.Object({ group: Name, name: Name, seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) })

// --- nodes, providers, grants --------------------------------------------------------

export const ChallengeBody = Type.Object({ peer: PeerIdString }, { additionalProperties: false })
export const Challenge = Type.Object({ challenge: Type.String({ description: 'base64' }), expiresAt: Type.String() })
export type Challenge = Static<typeof Challenge>

export const RegisterNodeBody = Type.Object({
  addresses: Type.Array(Multiaddr, { maxItems: 16 }),
  challenge: Base64(64),
  signature: Base64(128)
}, { additionalProperties: false })
export type RegisterNodeBody = Static<typeof RegisterNodeBody>
export const NodeParams = Type.Object({ peer: PeerIdString })

export const NodeInfo = Type.Object({
  peer: Type.String(),
  user: Type.String(),
  addresses: Type.Array(Type.String()),
  registeredAt: Type.String()
})
export type NodeInfo = Static<typeof NodeInfo>
export const NodeList = Type.Object({ nodes: Type.Array(NodeInfo) })

export const ProviderParams = Type.Object({ group: Name, name: Name, peer: PeerIdString })
export const AnnounceProviderBody = Type.Object({ seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false })
export const Provider = Type.Object({ peer: Type.String(), addresses: Type.Array(Type.String()), seq: Type.Integer(), updatedAt: Type.String() })
export type Provider = Static<typeof Provider>
export const ProviderList = Type.Object({ providers: Type.Array(Provider) })

export const GrantRequestBody = Type.Object({ peer: PeerIdString }, { additionalProperties: false })
export const GrantResponse = Type.Object({
  grant: Type.String({ description: 'signed grant (protocol/grant.ts), DAG-CBOR, base64' }),
  peer: Type.String(),
  bucket: Type.String(),
  rights: Type.Array(Right),
  issuedAt: Type.Integer(),
  expires: Type.Integer()
})
export type GrantResponse = Static<typeof GrantResponse>

// --- search and audit -------------------------------------------------------------------

export const SearchQuery = Type.Object({
  q: Type.Optional(Type.String({ pattern: TEXT_PATTERN, maxLength: 200 })),
  group: Type.Optional(Name),
  tag: Type.Optional(Tag),
  visibility: Type.Optional(Visibility),
  updatedSince: Type.Optional(IsoTime),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 }))
}, { additionalProperties: false })
export type SearchQuery = Static<typeof SearchQuery>

export const SearchHit = Type.Object({ ...Bucket.properties, score: Type.Number() })
export const SearchResult = Type.Object({ results: Type.Array(SearchHit), next: Type.Union([Type.Integer(), Type.Null()]) })
export type SearchResult = Static<typeof SearchResult>

export const AuditEntry = Type.Object({
  at: Type.String(),
  actor: Type.String(),
  action: Type.String(),
  target: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown())
})
export type AuditEntry = Static<typeof AuditEntry>
export const AuditQuery = Type.Object({
  group: Type.Optional(Name),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 }))
}, { additionalProperties: false })
export const AuditList = Type.Object({ entries: Type.Array(AuditEntry) })
