/**
 * Object keys of the tier, under the configured prefix:
 *   rok-tier.json                         format marker
 *   packs/<2 hex>/<sha256>                packs (pack.ts)
 *   versions/<group>/<name>/<seq>         signed version records, 15-digit seq
 * A version object is written only after every block of its version is in a pack, so a
 * node that lists `versions/` sees only versions it can restore.
 */
import { parseBucketName } from '../../protocol/bucket-name.ts'

export const MARKER_KEY = 'rok-tier.json'
export const PACKS_PREFIX = 'packs/'
export const VERSIONS_PREFIX = 'versions/'
const SEQ_DIGITS = 15

export function versionObjectKey (bucket: string, seq: number): string {
  return `${VERSIONS_PREFIX}${bucket}/${String(seq).padStart(SEQ_DIGITS, '0')}`
}

export function parseVersionObjectKey (key: string): { bucket: string, seq: number } | undefined {
  const m = /^versions\/([^/]+\/[^/]+)\/(\d{15})$/.exec(key)
  if (m === null) return undefined
  try { parseBucketName(m[1]) } catch { return undefined }
  const seq = Number(m[2])
  return seq >= 1 ? { bucket: m[1], seq } : undefined
}
