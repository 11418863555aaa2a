/** What every route plugin is given (its smallest needs, passed once from app.ts). */
import type { PrivateKey } from '@libp2p/interface'
import { ErrorBody } from '../../protocol/registry-api.ts'
import type { RegistryState } from '../state.ts'

export interface RouteOptions {
  state: RegistryState
  signingKey: PrivateKey
  grantTtlMs: number
  providerTtlMs: number
  /** Per-IP limit for POST /v1/login, or false when rate limiting is off. */
  loginRateLimit: { max: number, timeWindow: number } | false
}

/** Error answers every route declares, so they are serialized and documented too. */
export const ERROR_RESPONSES = { '4xx': ErrorBody, '5xx': ErrorBody }
