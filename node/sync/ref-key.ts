/**
 * Reverse-index keys `<tag>!<cid>!<bucket>` written straight from a CID's bytes. The CID
 * part is the text CID#toString gives a CIDv1: 'b' + RFC 4648 base32, lowercase, no
 * padding. multiformats' generic encoder builds that text through intermediate strings
 * and arrays; per chunk of a syncing or serving node they were most of the garbage that
 * grew its heap (95 MB of 222 MB sampled during a 1 GiB sync). Here each key is one string
 * decoded from a reused buffer.
 */
import type { CID } from '../../protocol/cid.ts'

const ALPHABET = new TextEncoder().encode('abcdefghijklmnopqrstuvwxyz234567')
let scratch = Buffer.allocUnsafe(512)

/** `tag!<cid text>!bucket`, for a CIDv1 given as its bytes or as a CID. */
export function refKey (tag: string, cid: CID | Uint8Array, bucket: string): string {
  if (!(cid instanceof Uint8Array)) {
    if (cid.version !== 1) return `${tag}!${cid.toString()}!${bucket}`
    cid = cid.bytes
  }
  const need = tag.length + 3 + Math.ceil(cid.length * 8 / 5) + Buffer.byteLength(bucket)
  if (need > scratch.length) scratch = Buffer.allocUnsafe(need * 2)
  let n = scratch.write(tag, 0, 'latin1')
  scratch[n++] = 0x21 // '!'
  scratch[n++] = 0x62 // 'b', the multibase prefix of base32
  let value = 0
  let bits = 0
  for (let i = 0; i < cid.length; i++) {
    value = ((value << 8) | cid[i]) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      scratch[n++] = ALPHABET[(value >>> bits) & 31]
    }
  }
  if (bits > 0) scratch[n++] = ALPHABET[(value << (5 - bits)) & 31]
  scratch[n++] = 0x21
  n += scratch.write(bucket, n, 'utf8')
  return scratch.toString('utf8', 0, n)
}
