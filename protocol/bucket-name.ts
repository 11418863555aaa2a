/**
 * Bucket names are `group/name`. Both parts: lowercase letters, digits, `-`, `_`, `.`,
 * starting with a letter or digit, at most 64 characters — safe as folder names, URL path
 * segments and gossip topics. A version is addressed as `group/name@seq`.
 */
import { ProtocolErrorCode, RokError } from './errors.ts'

export const NAME_PART = /^[a-z0-9][a-z0-9._-]{0,63}$/

export interface BucketRef {
  group: string
  name: string
}

export function isValidNamePart (part: string): boolean {
  return NAME_PART.test(part) && !part.includes('..')
}

export function parseBucketName (text: string): BucketRef {
  const parts = text.split('/')
  if (parts.length !== 2 || !isValidNamePart(parts[0]) || !isValidNamePart(parts[1])) {
    throw new RokError(ProtocolErrorCode.INVALID_BUCKET_NAME,
      `'${text.slice(0, 140)}' is not a bucket name: use group/name with lowercase letters, digits, '.', '-' or '_' (e.g. acme/imagenet-small)`,
      { details: { bucket: text.slice(0, 140) } })
  }
  return { group: parts[0], name: parts[1] }
}

export function formatBucketName (ref: BucketRef): string {
  return `${ref.group}/${ref.name}`
}

/** Parse `group/name[@seq]`; seq is a positive integer, absent meaning "latest". */
export function parseVersionRef (text: string): { bucket: string, seq?: number } {
  const at = text.lastIndexOf('@')
  const bucketText = at === -1 ? text : text.slice(0, at)
  const bucket = formatBucketName(parseBucketName(bucketText))
  if (at === -1) return { bucket }
  const seqText = text.slice(at + 1)
  if (!/^[1-9][0-9]{0,14}$/.test(seqText)) {
    throw new RokError(ProtocolErrorCode.INVALID_BUCKET_NAME, `'${seqText}' is not a version number: use ${bucket}@N with N = 1, 2, …`)
  }
  return { bucket, seq: Number(seqText) }
}
