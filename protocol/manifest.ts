/**
 * Manifests: the Merkle tree of DAG-CBOR nodes that describes a snapshot.
 *
 * - The **root** names the volume kind (folder tree or block image), its logical size
 *   and counts, and links to the top list.
 * - A **list** (a folder's entries, or a file's / image's chunk refs) is a tree of
 *   `leaf` nodes holding items and `branch` nodes linking to children. Leaf boundaries
 *   are content-defined (a hash of each item decides whether the leaf ends there), so an
 *   insertion in a long list changes only the leaves around it: unchanged stretches keep
 *   their CIDs and are never sent twice.
 * - A folder **entry** links to its sub-folder's list, so an unchanged sub-folder keeps
 *   its CID too.
 *
 * Decoding validates everything: a manifest from a peer or a damaged disk is untrusted.
 */
import * as dagCbor from '@ipld/dag-cbor'
import { CID, DAG_CBOR_CODEC, checkCid, cidFor } from './cid.ts'
import { ProtocolErrorCode, RokError } from './errors.ts'
import { decodeManifestCbor, encodeManifestCbor } from './manifest-cbor.ts'

export const MANIFEST_FORMAT = 'rok/manifest/1'
/** No manifest node may be larger than this, on disk or on the wire. */
export const MAX_NODE_BYTES = 1024 * 1024
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024
export const MAX_NAME_BYTES = 255
export const MAX_TARGET_BYTES = 4096

export type EntryKind = 'file' | 'dir' | 'symlink' | 'hardlink'

/** A chunk reference: the chunk's CID and its length in bytes. */
export type ChunkRef = [CID, number]

export interface Entry {
  name: string
  kind: EntryKind
  /** Permission bits (including setuid/setgid/sticky), never the file type. */
  mode: number
  /** Modification time as [seconds, nanoseconds]. */
  mtime: [number, number]
  /** Logical size in bytes (files; 0 for others). */
  size: number
  /** Chunks inline, for small files. */
  data?: ChunkRef[]
  /** Root of the chunk list, for large files. */
  dataTree?: CID
  /** Root of the sub-folder's entry list (dirs). */
  dir?: CID
  /** Symlink target, or for a hard link the path (from the volume root) of the first link. */
  target?: string
}

export interface ManifestRoot {
  format: typeof MANIFEST_FORMAT
  kind: 'tree' | 'image'
  size: number
  files: number
  dirs: number
  /** Root folder's entry list (tree) or the image's chunk list (image). */
  list: CID
  /** Mode and mtime of the root folder or image file. */
  mode: number
  mtime: [number, number]
}

export type ListItem = Entry | ChunkRef

export interface LeafNode<T> { leaf: T[] }
/** A child link: [CID of child node, items below it, logical bytes below it]. */
export type BranchLink = [CID, number, number]
export interface BranchNode { branch: BranchLink[] }
export type ListNode<T> = LeafNode<T> | BranchNode

export interface EncodedNode { cid: CID, bytes: Uint8Array }

export function encodeNode (value: unknown): EncodedNode {
  const bytes = encodeManifestCbor(value) ?? dagCbor.encode(value)
  if (bytes.length > MAX_NODE_BYTES) {
    throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `manifest node of ${bytes.length} bytes exceeds ${MAX_NODE_BYTES}`)
  }
  return { cid: cidFor(DAG_CBOR_CODEC, bytes), bytes }
}

function invalid (what: string): never {
  throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, `invalid manifest: ${what}`)
}

function decodeCbor (bytes: Uint8Array): unknown {
  if (bytes.length > MAX_NODE_BYTES) invalid(`node of ${bytes.length} bytes exceeds ${MAX_NODE_BYTES}`)
  const known = decodeManifestCbor(bytes)
  if (known !== undefined) return known
  try {
    return dagCbor.decode(bytes)
  } catch (cause) {
    throw new RokError(ProtocolErrorCode.INVALID_MANIFEST, 'invalid manifest: node is not valid DAG-CBOR', { cause })
  }
}

function isMap (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && CID.asCID(v) === null
}

function asCid (v: unknown, what: string): CID {
  const cid = CID.asCID(v)
  if (cid === null) invalid(`${what} is not a CID`)
  try { return checkCid(cid) } catch { invalid(`${what} is not a Rok CID`) }
}

function asCount (v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) invalid(`${what} must be an integer in [0, ${max}]`)
  return v
}

function asMtime (v: unknown, what: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !Number.isSafeInteger(v[0]) ||
    typeof v[1] !== 'number' || !Number.isInteger(v[1]) || v[1] < 0 || v[1] >= 1e9) invalid(`${what} must be [seconds, nanoseconds]`)
  return [v[0], v[1]]
}

export function decodeRoot (bytes: Uint8Array): ManifestRoot {
  const v = decodeCbor(bytes)
  if (!isMap(v) || v.format !== MANIFEST_FORMAT) invalid(`root is not a ${MANIFEST_FORMAT} node`)
  if (v.kind !== 'tree' && v.kind !== 'image') invalid("root kind must be 'tree' or 'image'")
  return {
    format: MANIFEST_FORMAT,
    kind: v.kind,
    size: asCount(v.size, 'root size'),
    files: asCount(v.files, 'root files'),
    dirs: asCount(v.dirs, 'root dirs'),
    list: asCid(v.list, 'root list'),
    mode: asCount(v.mode, 'root mode', 0o7777),
    mtime: asMtime(v.mtime, 'root mtime')
  }
}

export function encodeRoot (root: ManifestRoot): EncodedNode {
  return encodeNode({ ...root })
}

/** Decode a list node, validating each item with `item`. */
export function decodeListNode<T> (bytes: Uint8Array, item: (v: unknown) => T): ListNode<T> {
  const v = decodeCbor(bytes)
  if (!isMap(v)) invalid('list node is not a map')
  if (Array.isArray(v.leaf) && v.branch === undefined) return { leaf: v.leaf.map(item) }
  if (Array.isArray(v.branch) && v.leaf === undefined) {
    if (v.branch.length === 0) invalid('branch node has no children')
    return {
      branch: v.branch.map((l: unknown): BranchLink => {
        if (!Array.isArray(l) || l.length !== 3) invalid('branch link must be [cid, items, bytes]')
        return [asCid(l[0], 'branch link'), asCount(l[1], 'branch item count'), asCount(l[2], 'branch byte count')]
      })
    }
  }
  invalid("list node must hold either 'leaf' or 'branch'")
}

const LEAF_HEAD = Uint8Array.of(0xa1, 0x64, ...new TextEncoder().encode('leaf'))

/**
 * Whether a list node's bytes hold a leaf, read off its one map key without decoding the
 * items: a walk that needs a chunk list's leaves by CID only skips decoding hundreds of
 * chunk refs each. False for a branch and for anything that is not a list node.
 */
export function isLeafListNode (bytes: Uint8Array): boolean {
  if (bytes.byteLength < LEAF_HEAD.byteLength) return false
  for (let i = 0; i < LEAF_HEAD.byteLength; i++) if (bytes[i] !== LEAF_HEAD[i]) return false
  return true
}

export function decodeChunkRef (v: unknown): ChunkRef {
  if (!Array.isArray(v) || v.length !== 2) invalid('chunk ref must be [cid, size]')
  const cid = asCid(v[0], 'chunk ref')
  if (cid.code !== 0x55) invalid('chunk ref must use the raw codec')
  return [cid, asCount(v[1], 'chunk size', MAX_CHUNK_BYTES)]
}

const ENTRY_KINDS = new Set<EntryKind>(['file', 'dir', 'symlink', 'hardlink'])
const utf8 = new TextEncoder()

/** A safe single path component: no separators, no `.`/`..`, no NUL, not empty, not too long. */
export function isSafeName (name: string): boolean {
  // a UTF-16 code unit is at most 3 bytes of UTF-8: a short name needs no encoding to know
  return name.length > 0 && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0') &&
    (name.length * 3 <= MAX_NAME_BYTES || utf8.encode(name).length <= MAX_NAME_BYTES)
}

/** A safe relative path inside the volume (for hard-link targets). */
export function isSafeRelativePath (path: string): boolean {
  return path.length > 0 && path.length <= MAX_TARGET_BYTES && !path.startsWith('/') && path.split('/').every(isSafeName)
}

export function decodeEntry (v: unknown): Entry {
  if (!isMap(v)) invalid('entry is not a map')
  if (typeof v.name !== 'string' || !isSafeName(v.name)) invalid(`unsafe entry name ${JSON.stringify(String(v.name).slice(0, 80))}`)
  const name = v.name
  if (typeof v.kind !== 'string' || !ENTRY_KINDS.has(v.kind as EntryKind)) invalid(`entry '${name}' has unsupported kind ${JSON.stringify(String(v.kind).slice(0, 20))} (only files, folders, symlinks and hard links are restored)`)
  const kind = v.kind as EntryKind
  const entry: Entry = {
    name,
    kind,
    mode: asCount(v.mode, `mode of '${name}'`, 0o7777),
    mtime: asMtime(v.mtime, `mtime of '${name}'`),
    size: asCount(v.size, `size of '${name}'`)
  }
  if (kind === 'file') {
    if (v.data !== undefined) {
      if (!Array.isArray(v.data)) invalid(`data of '${name}' must be a list`)
      entry.data = v.data.map(decodeChunkRef)
    }
    if (v.dataTree !== undefined) entry.dataTree = asCid(v.dataTree, `data of '${name}'`)
    if ((entry.data === undefined) === (entry.dataTree === undefined)) invalid(`file '${name}' must have exactly one of data or dataTree`)
  } else if (kind === 'dir') {
    entry.dir = asCid(v.dir, `folder '${name}'`)
  } else {
    if (typeof v.target !== 'string' || v.target.length === 0 || v.target.length > MAX_TARGET_BYTES || v.target.includes('\0')) invalid(`target of '${name}' is invalid`)
    if (kind === 'hardlink' && !isSafeRelativePath(v.target)) invalid(`hard link '${name}' points outside the volume`)
    entry.target = v.target
  }
  return entry
}

/**
 * Two mtimes are the same time when they are within a microsecond: restore sets mtimes
 * through Node's utimes, which takes a double and cannot carry every nanosecond, so a
 * restored file may differ from its manifest below the microsecond.
 */
export function sameMtime (a: [number, number], b: [number, number]): boolean {
  return Math.abs((a[0] - b[0]) * 1e9 + (a[1] - b[1])) < 1000
}

/** Entries in a folder are sorted by the UTF-8 bytes of their names, with no duplicates. */
export function compareNames (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** Strip undefined fields so the encoding (and CID) does not depend on them. */
export function entryToCbor (e: Entry): Record<string, unknown> {
  const out: Record<string, unknown> = { name: e.name, kind: e.kind, mode: e.mode, mtime: e.mtime, size: e.size }
  if (e.data !== undefined) out.data = e.data
  if (e.dataTree !== undefined) out.dataTree = e.dataTree
  if (e.dir !== undefined) out.dir = e.dir
  if (e.target !== undefined) out.target = e.target
  return out
}
