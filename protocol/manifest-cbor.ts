/**
 * A direct DAG-CBOR codec for the values manifests are made of: maps whose keys are the
 * manifest's own field names, arrays, safe integers, strings and Rok CIDs. A tree
 * snapshot encodes and decodes tens of thousands of folder entries; @ipld/dag-cbor goes
 * through a token per value and turns every map key into bytes to sort it, this writes
 * and reads the bytes in one pass, with the keys in their fixed canonical order.
 *
 * Both directions handle only that subset and answer `undefined` for anything else, and
 * the caller then uses @ipld/dag-cbor. The bytes written are exactly @ipld/dag-cbor's
 * (test/protocol/manifest-cbor.test.ts compares them on random values), and the decoder
 * accepts only what @ipld/dag-cbor accepts and returns the same value: canonical
 * (shortest) lengths and integers, keys in canonical order, no trailing bytes.
 */
import { CID } from 'multiformats/cid'
import { Digest } from 'multiformats/hashes/digest'

/** Every map key a manifest node uses (roots, list nodes, entries). */
const KEYS = ['format', 'kind', 'size', 'files', 'dirs', 'list', 'mode', 'mtime', 'leaf', 'branch', 'name', 'data', 'dataTree', 'dir', 'target']

const utf8 = new TextEncoder()
const textDecoder = new TextDecoder()
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice

/** DAG-CBOR's map key order: shorter encoded key first, then bytewise. */
function canonical (a: string, b: string): number {
  const ab = utf8.encode(a)
  const bb = utf8.encode(b)
  return ab.length - bb.length || Buffer.compare(ab, bb)
}

const ORDER = [...KEYS].sort(canonical)
if (ORDER.join() !== 'dir,data,dirs,kind,leaf,list,mode,name,size,files,mtime,branch,format,target,dataTree') throw new Error('setField needs the keys in canonical order')
const RANK: Record<string, number> = Object.create(null)
ORDER.forEach((k, i) => { RANK[k] = i })
/** Each key's CBOR text header and bytes, ready to copy. */
const KEY_BYTES = ORDER.map(k => Uint8Array.of(0x60 + k.length, ...utf8.encode(k)))

const RAW = 0x55
const DAG_CBOR = 0x71
/** A Rok CID in bytes: version 1, raw or dag-cbor, sha2-256 with 32 bytes of digest. */
const CID_BYTES = 36

// ---- encoding ----

let out = Buffer.allocUnsafe(64 * 1024)
let pos = 0

/** Thrown inside the encoder for a value outside the subset; never escapes. */
const UNSUPPORTED = Symbol('unsupported')

function room (n: number): void {
  if (pos + n <= out.length) return
  const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, pos + n))
  out.copy(bigger, 0, 0, pos)
  out = bigger
}

function head (major: number, n: number): void {
  room(9)
  const m = major << 5
  if (n < 24) {
    out[pos++] = m | n
  } else if (n < 0x100) {
    out[pos++] = m | 24
    out[pos++] = n
  } else if (n < 0x10000) {
    out[pos++] = m | 25
    out[pos++] = n >>> 8
    out[pos++] = n & 0xff
  } else if (n < 0x100000000) {
    out[pos++] = m | 26
    out.writeUInt32BE(n, pos)
    pos += 4
  } else {
    out[pos++] = m | 27
    out.writeUInt32BE(Math.floor(n / 0x100000000), pos)
    out.writeUInt32BE(n >>> 0, pos + 4)
    pos += 8
  }
}

function writeString (s: string): void {
  const n = s.length
  room(9 + n)
  const start = pos
  head(3, n)
  const body = pos
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x80) {
      // not ASCII: the header depends on the UTF-8 length
      pos = start
      const bytes = Buffer.byteLength(s, 'utf8')
      head(3, bytes)
      room(bytes)
      pos += out.write(s, pos, 'utf8')
      return
    }
    out[body + i] = c
  }
  pos = body + n
}

function writeCid (cid: CID): void {
  const bytes = cid.bytes
  room(bytes.length + 4)
  out[pos++] = 0xd8 // tag 42
  out[pos++] = 42
  head(2, bytes.length + 1)
  out[pos++] = 0 // the multibase identity prefix DAG-CBOR keeps
  out.set(bytes, pos)
  pos += bytes.length
}

function writeValue (v: unknown): void {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw UNSUPPORTED
    if (v >= 0) head(0, v)
    else head(1, -1 - v)
  } else if (typeof v === 'string') {
    writeString(v)
  } else if (Array.isArray(v)) {
    head(4, v.length)
    for (let i = 0; i < v.length; i++) writeValue(v[i])
  } else if (v instanceof CID) {
    writeCid(v)
  } else if (v !== null && typeof v === 'object' && isPlain(Object.getPrototypeOf(v))) {
    writeMap(v as Record<string, unknown>)
  } else {
    throw UNSUPPORTED
  }
}

function isPlain (proto: unknown): boolean {
  return proto === Object.prototype || proto === null
}

function writeMap (map: Record<string, unknown>): void {
  let present = 0
  let count = 0
  for (const k in map) {
    const rank = RANK[k]
    if (rank === undefined || map[k] === undefined) throw UNSUPPORTED
    present |= 1 << rank
    count++
  }
  head(5, count)
  for (let rank = 0; present !== 0; rank++, present >>>= 1) {
    if ((present & 1) === 0) continue
    const key = KEY_BYTES[rank]
    room(key.length)
    out.set(key, pos)
    pos += key.length
    writeValue(map[ORDER[rank]])
  }
}

/**
 * The DAG-CBOR bytes of `value`, or undefined when it holds something outside the subset
 * (a key no manifest uses, a float, bytes, null, a non-Rok object...).
 */
export function encodeManifestCbor (value: unknown): Uint8Array | undefined {
  pos = 0
  try {
    writeValue(value)
  } catch (err) {
    if (err === UNSUPPORTED) return undefined
    throw err
  }
  return new Uint8Array(out.subarray(0, pos))
}

// ---- decoding ----

/** Thrown inside the decoder for bytes outside the canonical subset; never escapes. */
const OUTSIDE = Symbol('outside')
const MAX_DEPTH = 32

let src: Uint8Array = new Uint8Array(0)
let at = 0

/** The argument of the head at `at` (major type already read), shortest form only. */
function argument (info: number): number {
  if (info < 24) return info
  let n: number
  if (info === 24) {
    if (at + 1 > src.length) throw OUTSIDE
    n = src[at]
    at += 1
    if (n < 24) throw OUTSIDE
  } else if (info === 25) {
    if (at + 2 > src.length) throw OUTSIDE
    n = (src[at] << 8) | src[at + 1]
    at += 2
    if (n < 0x100) throw OUTSIDE
  } else if (info === 26) {
    if (at + 4 > src.length) throw OUTSIDE
    n = ((src[at] << 24) >>> 0) + ((src[at + 1] << 16) | (src[at + 2] << 8) | src[at + 3])
    at += 4
    if (n < 0x10000) throw OUTSIDE
  } else if (info === 27) {
    if (at + 8 > src.length) throw OUTSIDE
    const hi = ((src[at] << 24) >>> 0) + ((src[at + 1] << 16) | (src[at + 2] << 8) | src[at + 3])
    const lo = ((src[at + 4] << 24) >>> 0) + ((src[at + 5] << 16) | (src[at + 6] << 8) | src[at + 7])
    at += 8
    if (hi === 0 || hi > 0x1fffff) throw OUTSIDE // not shortest, or beyond a safe integer
    n = hi * 0x100000000 + lo
  } else {
    throw OUTSIDE // indefinite lengths and reserved values
  }
  return n
}

function readString (length: number): string {
  const end = at + length
  if (end > src.length) throw OUTSIDE
  let s: string
  let i = at
  while (i < end && src[i] < 0x80) i++
  if (i === end) s = latin1Slice.call(src, at, end) // ASCII: each byte is its character
  else s = textDecoder.decode(src.subarray(at, end)) // as @ipld/dag-cbor (invalid UTF-8 becomes U+FFFD)
  at = end
  return s
}

/**
 * Decoded CIDs are copied out of the node (so they do not hold its bytes) into shared
 * 4.5 KiB buffers: one allocation per 128 CIDs rather than one each.
 */
const CID_POOL_BYTES = CID_BYTES * 128
let pool = new Uint8Array(0)
let poolAt = 0

function readCid (): CID {
  // tag 42 (already read), then a byte string of 0x00 and the CID
  if (at + 2 + CID_BYTES > src.length || src[at] !== 0x58 || src[at + 1] !== CID_BYTES + 1 || src[at + 2] !== 0) throw OUTSIDE
  const s = at + 3
  const code = src[s + 1]
  if (src[s] !== 1 || (code !== RAW && code !== DAG_CBOR) || src[s + 2] !== 0x12 || src[s + 3] !== 32) throw OUTSIDE
  if (poolAt + CID_BYTES > pool.length) {
    pool = new Uint8Array(CID_POOL_BYTES)
    poolAt = 0
  }
  for (let i = 0; i < CID_BYTES; i++) pool[poolAt + i] = src[s + i]
  const bytes = pool.subarray(poolAt, poolAt + CID_BYTES)
  poolAt += CID_BYTES
  at = s + CID_BYTES
  return new CID(1, code, new Digest(0x12, 32, bytes.subarray(4), bytes.subarray(2)), bytes) as CID
}

/** The rank of the key at `at`, which must come after `last` in canonical order. */
function readKey (last: number): number {
  if (at >= src.length) throw OUTSIDE
  const b = src[at++]
  if ((b >> 5) !== 3) throw OUTSIDE
  const length = b & 31
  if (length >= 24 || at + length > src.length) throw OUTSIDE
  for (let rank = last + 1; rank < KEY_BYTES.length; rank++) {
    const key = KEY_BYTES[rank]
    if (key[0] !== b) continue
    let i = 1
    while (i <= length && key[i] === src[at + i - 1]) i++
    if (i > length) {
      at += length
      return rank
    }
  }
  throw OUTSIDE // a key no manifest uses, out of canonical order, or a duplicate
}

/**
 * One named store per key, in ORDER's order: V8 keeps a map built this way on a fast
 * shape, where `map[key] = v` with a computed key does not.
 */
function setField (map: Record<string, unknown>, rank: number, v: unknown): void {
  switch (rank) {
    case 0: map.dir = v; break
    case 1: map.data = v; break
    case 2: map.dirs = v; break
    case 3: map.kind = v; break
    case 4: map.leaf = v; break
    case 5: map.list = v; break
    case 6: map.mode = v; break
    case 7: map.name = v; break
    case 8: map.size = v; break
    case 9: map.files = v; break
    case 10: map.mtime = v; break
    case 11: map.branch = v; break
    case 12: map.format = v; break
    case 13: map.target = v; break
    case 14: map.dataTree = v; break
    default: throw OUTSIDE
  }
}

function readValue (depth: number): unknown {
  if (depth > MAX_DEPTH || at >= src.length) throw OUTSIDE
  const b = src[at++]
  const major = b >> 5
  const info = b & 31
  switch (major) {
    case 0: {
      const n = argument(info)
      if (!Number.isSafeInteger(n)) throw OUTSIDE
      return n
    }
    case 1: {
      const n = argument(info)
      if (!Number.isSafeInteger(n + 1)) throw OUTSIDE
      return -1 - n
    }
    case 3:
      return readString(argument(info))
    case 4: {
      const n = argument(info)
      if (n > src.length - at) throw OUTSIDE // each item is at least one byte
      const items = new Array(n)
      for (let i = 0; i < n; i++) items[i] = readValue(depth + 1)
      return items
    }
    case 5: {
      const n = argument(info)
      if (n * 2 > src.length - at) throw OUTSIDE
      const map: Record<string, unknown> = {}
      let last = -1
      for (let i = 0; i < n; i++) {
        last = readKey(last)
        setField(map, last, readValue(depth + 1))
      }
      return map
    }
    case 6:
      if (b !== 0xd8 || at >= src.length || src[at] !== 42) throw OUTSIDE
      at++
      return readCid()
    default:
      throw OUTSIDE // byte strings outside a CID, floats, null, true/false, undefined
  }
}

/**
 * The value of canonical DAG-CBOR `bytes` in the subset, as @ipld/dag-cbor would decode
 * it, or undefined when the bytes are anything else (which may still be valid DAG-CBOR).
 */
export function decodeManifestCbor (bytes: Uint8Array): unknown {
  src = bytes
  at = 0
  try {
    const value = readValue(0)
    return at === bytes.length ? value : undefined
  } catch (err) {
    if (err === OUTSIDE) return undefined
    throw err
  } finally {
    src = new Uint8Array(0)
  }
}
