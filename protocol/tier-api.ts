/**
 * Node API (v1) for the object-storage tier: status, push, pull, list and verify, as
 * TypeBox schemas the daemon validates with and the CLI's client takes its types from.
 * Push, pull and verify answer with NDJSON progress like the other long operations.
 */
import { Type, type Static } from 'typebox'
import { BucketName, VersionRef, type OperationOptions } from './node-api.ts'

export const TierStatus = Type.Object({
  tier: Type.String({ description: 'where the tier is: s3://bucket/prefix at endpoint, or a folder' }),
  packs: Type.Integer(),
  packBytes: Type.Number(),
  blocks: Type.Integer(),
  pushedVersions: Type.Integer(),
  unpushedVersions: Type.Array(Type.String()),
  candidates: Type.Integer({ description: 'packs gc has marked for deletion' }),
  interruptedUploads: Type.Integer({ description: 'uploads a crash interrupted; the next push resumes them' })
})
export type TierStatus = Static<typeof TierStatus>

export const TierPushBody = Type.Object({ bucket: Type.Optional(BucketName) }, { additionalProperties: false })
export type TierPushBody = Static<typeof TierPushBody>

export const TierPushReport = Type.Object({
  versions: Type.Array(Type.String()),
  alreadyPushed: Type.Integer(),
  packs: Type.Integer(),
  blocks: Type.Integer(),
  blockBytes: Type.Number(),
  uploadedBytes: Type.Number(),
  resumedPacks: Type.Integer()
})
export type TierPushReport = Static<typeof TierPushReport>

export const TierPullBody = Type.Object({ version: VersionRef, data: Type.Optional(Type.Boolean()) }, { additionalProperties: false })
export type TierPullBody = Static<typeof TierPullBody>

export const TierPullReport = Type.Object({
  bucket: Type.String(),
  seq: Type.Integer(),
  cid: Type.String(),
  alreadyLocal: Type.Boolean(),
  blocks: Type.Integer(),
  bytes: Type.Number(),
  data: Type.Boolean()
})
export type TierPullReport = Static<typeof TierPullReport>

export const TierVersion = Type.Object({ bucket: Type.String(), seq: Type.Integer(), modified: Type.String() })
export type TierVersion = Static<typeof TierVersion>

export const TierListQuery = Type.Object({ bucket: Type.Optional(BucketName) }, { additionalProperties: false })

export const TierVerifyReport = Type.Object({
  ok: Type.Boolean(),
  packs: Type.Integer(),
  blocks: Type.Integer(),
  bytes: Type.Number(),
  versions: Type.Integer(),
  damaged: Type.Array(Type.Object({ what: Type.String(), problem: Type.String(), detail: Type.Optional(Type.String()) }))
})
export type TierVerifyReport = Static<typeof TierVerifyReport>

/** Tier operations, in-process or through a running daemon. */
export interface TierOperations {
  tierStatus: () => Promise<TierStatus>
  tierPush: (body: TierPushBody, options?: OperationOptions) => Promise<TierPushReport>
  tierPull: (body: TierPullBody, options?: OperationOptions) => Promise<TierPullReport>
  tierList: (bucket?: string, options?: { signal?: AbortSignal }) => Promise<TierVersion[]>
  tierVerify: (options?: OperationOptions) => Promise<TierVerifyReport>
}
