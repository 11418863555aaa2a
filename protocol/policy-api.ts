/**
 * Node API (v1) for bucket policies, retention (`forget`), and pins: TypeBox schemas the
 * daemon validates with and the CLI's client types come from.
 */
import { Type, type Static } from 'typebox'
import { AbsolutePath, BucketName } from './node-api.ts'

const Count = Type.Integer({ minimum: -1, maximum: 1_000_000, description: 'number of versions or periods; -1 for all' })

export const RetentionRules = Type.Object({
  keepLast: Type.Optional(Count),
  keepHourly: Type.Optional(Count),
  keepDaily: Type.Optional(Count),
  keepWeekly: Type.Optional(Count),
  keepMonthly: Type.Optional(Count),
  keepYearly: Type.Optional(Count),
  keepWithinMs: Type.Optional(Type.Number({ minimum: 0, maximum: 1000 * 365 * 86_400_000 }))
}, { additionalProperties: false })
export type RetentionRules = Static<typeof RetentionRules>

const Glob = Type.String({ minLength: 1, maxLength: 1024 })

export const PolicyBody = Type.Object({
  bucket: BucketName,
  schedule: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: '5-field cron expression, UTC' })),
  path: Type.Optional(AbsolutePath),
  include: Type.Optional(Type.Array(Glob, { maxItems: 256 })),
  exclude: Type.Optional(Type.Array(Glob, { maxItems: 256 })),
  publish: Type.Optional(Type.Boolean()),
  shareWith: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 64 })),
  retention: Type.Optional(RetentionRules)
}, { additionalProperties: false })
export type PolicyBody = Static<typeof PolicyBody>

export const PolicyInfo = Type.Object({
  ...PolicyBody.properties,
  bucket: Type.String(),
  updatedAt: Type.String(),
  lastRun: Type.Optional(Type.String()),
  nextRun: Type.Optional(Type.String()),
  pinned: Type.Array(Type.Integer())
})
export type PolicyInfo = Static<typeof PolicyInfo>

export const ForgetBody = Type.Object({
  bucket: BucketName,
  dryRun: Type.Optional(Type.Boolean()),
  /** Without rules, the bucket's policy retention applies. */
  rules: Type.Optional(RetentionRules)
}, { additionalProperties: false })
export type ForgetBody = Static<typeof ForgetBody>

export const ForgetOutcome = Type.Object({
  bucket: Type.String(),
  dryRun: Type.Boolean(),
  rulesFrom: Type.Union([Type.Literal('flags'), Type.Literal('policy')]),
  rules: RetentionRules,
  versions: Type.Array(Type.Object({ seq: Type.Integer(), createdAt: Type.String(), keep: Type.Boolean(), reasons: Type.Array(Type.String()) })),
  kept: Type.Integer(),
  forgotten: Type.Integer()
})
export type ForgetOutcome = Static<typeof ForgetOutcome>

export const PinBody = Type.Object({ bucket: BucketName, seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), pinned: Type.Boolean() }, { additionalProperties: false })
export type PinBody = Static<typeof PinBody>

export const RemovedOutcome = Type.Object({ bucket: Type.String(), removed: Type.Boolean() })
export type RemovedOutcome = Static<typeof RemovedOutcome>

/** Policy operations: the daemon serves them; without a daemon the CLI runs them on the home. */
export interface PolicyOperations {
  policies: () => Promise<PolicyInfo[]>
  policy: (bucket: string) => Promise<PolicyInfo>
  setPolicy: (body: PolicyBody) => Promise<PolicyInfo>
  removePolicy: (bucket: string) => Promise<RemovedOutcome>
  forget: (body: ForgetBody, options?: { signal?: AbortSignal }) => Promise<ForgetOutcome>
  pin: (body: PinBody) => Promise<PinBody>
}
