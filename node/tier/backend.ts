/**
 * The object-backend interface: the few operations the tier needs from an object store.
 * Two implementations (a local folder, and any S3-compatible service) and wrappers
 * (retries) all share it; one test suite runs against every implementation.
 *
 * Keys are `/`-separated relative names (`packs/ab/abcd…`); a backend maps them under
 * its root (a folder, or a bucket and prefix). A missing object is ERR_TIER_OBJECT_NOT_FOUND;
 * a failure worth retrying (network, 5xx, throttling) is ERR_TIER_UNREACHABLE with
 * `details.transient` true.
 */
import { RokError } from '../../protocol/errors.ts'
import { TierErrorCode } from './errors.ts'

export interface BackendOptions {
  signal?: AbortSignal
}

export interface ObjectInfo {
  key: string
  size: number
  /** Last modification, ms since the epoch. */
  modified: number
}

/**
 * `length` bytes from `offset`. No suffix ranges (`bytes=-N`): not every S3-compatible
 * server implements them (s3rver 3.7 answers from the start), and the tier always knows
 * an object's size from a LIST or HEAD before it reads its end.
 */
export interface ByteRange { offset: number, length: number }

export interface ObjectBackend {
  /** Where the objects go, for messages (`s3://bucket/prefix at URL`, a folder). */
  readonly location: string
  /** Check that the store is there and the credentials work (at configuration time). */
  check: (options?: BackendOptions) => Promise<void>
  /** Store an object whole; readers see the old object or the new one, never a mix. */
  put: (key: string, body: Uint8Array, options?: BackendOptions) => Promise<void>
  /** An object's bytes, or a range of them (cut short at the object's end). */
  get: (key: string, options?: BackendOptions & { range?: ByteRange }) => Promise<Uint8Array>
  /** The object's size and date, or undefined when it is missing. */
  head: (key: string, options?: BackendOptions) => Promise<ObjectInfo | undefined>
  /** Every object whose key starts with `prefix`, in key order. */
  list: (prefix: string, options?: BackendOptions) => Promise<ObjectInfo[]>
  /** Remove an object; removing a missing one is not an error. */
  delete: (key: string, options?: BackendOptions) => Promise<void>
}

const KEY = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/

/** Keys are built by the tier, but a bad one must never escape the backend's root. */
export function checkKey (key: string): string {
  if (!KEY.test(key) || key.split('/').some(p => p === '.' || p === '..')) {
    throw new RokError(TierErrorCode.INVALID_CONFIG, `invalid object key '${key.slice(0, 200)}'`, { details: { key } })
  }
  return key
}

export function notFound (location: string, key: string, cause?: unknown): RokError {
  return new RokError(TierErrorCode.OBJECT_NOT_FOUND, `object ${key} is not in ${location}`, { cause, details: { key } })
}
