/** Error codes of node/policy: schedules, retention, gc. Each is documented in docs/ERRORS.md. */
export const PolicyErrorCode = {
  /** A cron expression is not five valid fields; the message names the field. */
  BAD_CRON: 'ERR_BAD_CRON',
  /** A duration (`--grace`, `--keep-within`) is not a number followed by a unit. */
  BAD_DURATION: 'ERR_BAD_DURATION',
  /** A policy or retention setting is invalid (negative count, empty glob, no rule given). */
  BAD_POLICY: 'ERR_BAD_POLICY',
  /** The bucket has no policy. */
  NO_POLICY: 'ERR_NO_POLICY',
  /** Another gc is running on this node. */
  GC_RUNNING: 'ERR_GC_RUNNING'
} as const

/** HTTP status of each code in the node API. */
export const POLICY_ERROR_STATUS: Record<string, number> = {
  [PolicyErrorCode.BAD_CRON]: 400,
  [PolicyErrorCode.BAD_DURATION]: 400,
  [PolicyErrorCode.BAD_POLICY]: 400,
  [PolicyErrorCode.NO_POLICY]: 404,
  [PolicyErrorCode.GC_RUNNING]: 409
}
