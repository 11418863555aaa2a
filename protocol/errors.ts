/**
 * Typed errors shared by every part of Rok. Callers branch on `code`, never on the
 * message; each part adds its own codes in its own `errors.ts` and builds errors with
 * `RokError`. The message says what was wrong and, where it can, what to do.
 */

export interface RokErrorOptions {
  cause?: unknown
  /** Machine-readable context (a path, a CID, a bucket) for `--json` output and logs. */
  details?: Record<string, unknown>
}

export class RokError extends Error {
  readonly code: string
  readonly details: Record<string, unknown>

  constructor (code: string, message: string, options: RokErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'RokError'
    this.code = code
    this.details = options.details ?? {}
  }

  toJSON (): { code: string, message: string, details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details }
  }
}

export function isRokError (err: unknown, code?: string): err is RokError {
  return err instanceof RokError && (code === undefined || err.code === code)
}

/** Codes used by `protocol/` itself. Each is documented in docs/ERRORS.md. */
export const ProtocolErrorCode = {
  /** A CID is malformed or uses a codec/hash Rok does not accept. */
  INVALID_CID: 'ERR_INVALID_CID',
  /** Bytes do not hash to the CID they were sent or stored under. */
  HASH_MISMATCH: 'ERR_HASH_MISMATCH',
  /** A manifest node does not match its schema (wrong types, unsafe path, too large). */
  INVALID_MANIFEST: 'ERR_INVALID_MANIFEST',
  /** A version record is malformed. */
  INVALID_VERSION_RECORD: 'ERR_INVALID_VERSION_RECORD',
  /** A signature does not verify against the claimed key. */
  BAD_SIGNATURE: 'ERR_BAD_SIGNATURE',
  /** A bucket name is not `group/name` with allowed characters. */
  INVALID_BUCKET_NAME: 'ERR_INVALID_BUCKET_NAME',
  /** A wire message is malformed or exceeds its bound. */
  INVALID_MESSAGE: 'ERR_INVALID_MESSAGE',
  /** A peer ID is malformed or does not embed an Ed25519 key. */
  INVALID_PEER_ID: 'ERR_INVALID_PEER_ID',
  /** A node key file is not a libp2p Ed25519 private key. */
  INVALID_PRIVATE_KEY: 'ERR_INVALID_PRIVATE_KEY'
} as const
