/**
 * Registry error codes, each with the HTTP status it is answered with (fastify keeps its
 * errors the same way). Callers — the client, the CLI, the node — branch on `code`.
 * Protocol codes that reach the registry (bad record, bad signature) map to 400.
 */
import { ProtocolErrorCode, RokError, type RokErrorOptions } from '../protocol/errors.ts'
import { GrantErrorCode } from '../protocol/grant.ts'

export const RegistryErrorCode = {
  /** The request is malformed: wrong JSON, wrong types, missing fields, bad names. */
  INVALID_REQUEST: 'ERR_INVALID_REQUEST',
  /** No token, or a token that is unknown or revoked. */
  UNAUTHENTICATED: 'ERR_UNAUTHENTICATED',
  /** The caller may see the thing but may not do this to it. */
  FORBIDDEN: 'ERR_FORBIDDEN',
  /** The thing does not exist, or the caller may not know that it does. */
  NOT_FOUND: 'ERR_NOT_FOUND',
  /** A user, group or bucket with that name already exists. */
  ALREADY_EXISTS: 'ERR_ALREADY_EXISTS',
  /** The change would leave a group without an owner. */
  LAST_OWNER: 'ERR_LAST_OWNER',
  /** A version record does not extend the bucket's history (wrong seq or parent). */
  VERSION_CONFLICT: 'ERR_VERSION_CONFLICT',
  /** The node named in a request is not registered to the calling user. */
  NODE_NOT_REGISTERED: 'ERR_NODE_NOT_REGISTERED',
  /** A node-registration challenge is unknown, used or expired. */
  BAD_CHALLENGE: 'ERR_BAD_CHALLENGE',
  /** The body is larger than the registry accepts (it never takes chunk data). */
  BODY_TOO_LARGE: 'ERR_BODY_TOO_LARGE',
  /** The body is not JSON. */
  UNSUPPORTED_MEDIA_TYPE: 'ERR_UNSUPPORTED_MEDIA_TYPE',
  /** Too many requests (login attempts especially); retry later. */
  RATE_LIMITED: 'ERR_RATE_LIMITED',
  /** The registry could not be reached or answered with something unexpected (client side). */
  UNAVAILABLE: 'ERR_REGISTRY_UNAVAILABLE',
  /** A bug: logged with its cause, answered without details. */
  INTERNAL: 'ERR_INTERNAL'
} as const

export const STATUS_BY_CODE: Record<string, number> = {
  [RegistryErrorCode.INVALID_REQUEST]: 400,
  [RegistryErrorCode.UNAUTHENTICATED]: 401,
  [RegistryErrorCode.FORBIDDEN]: 403,
  [RegistryErrorCode.NOT_FOUND]: 404,
  [RegistryErrorCode.ALREADY_EXISTS]: 409,
  [RegistryErrorCode.LAST_OWNER]: 409,
  [RegistryErrorCode.VERSION_CONFLICT]: 409,
  [RegistryErrorCode.NODE_NOT_REGISTERED]: 403,
  [RegistryErrorCode.BAD_CHALLENGE]: 400,
  [RegistryErrorCode.BODY_TOO_LARGE]: 413,
  [RegistryErrorCode.UNSUPPORTED_MEDIA_TYPE]: 415,
  [RegistryErrorCode.RATE_LIMITED]: 429,
  [RegistryErrorCode.UNAVAILABLE]: 503,
  [RegistryErrorCode.INTERNAL]: 500,
  [ProtocolErrorCode.INVALID_VERSION_RECORD]: 400,
  [ProtocolErrorCode.BAD_SIGNATURE]: 400,
  [ProtocolErrorCode.INVALID_BUCKET_NAME]: 400,
  [ProtocolErrorCode.INVALID_CID]: 400,
  [ProtocolErrorCode.INVALID_MESSAGE]: 400,
  [GrantErrorCode.INVALID_GRANT]: 400
}

export function statusForCode (code: string): number {
  return STATUS_BY_CODE[code] ?? 500
}

export function invalidRequest (message: string, options?: RokErrorOptions): RokError {
  return new RokError(RegistryErrorCode.INVALID_REQUEST, message, options)
}

export function notFound (what: string): RokError {
  return new RokError(RegistryErrorCode.NOT_FOUND, `${what} not found`)
}

export function forbidden (message: string): RokError {
  return new RokError(RegistryErrorCode.FORBIDDEN, message)
}

export function alreadyExists (what: string): RokError {
  return new RokError(RegistryErrorCode.ALREADY_EXISTS, `${what} already exists`)
}
