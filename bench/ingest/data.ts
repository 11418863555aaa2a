/**
 * Deterministic benchmark data: a block image and a tree of small files, each with a v2.
 * Everything is a pure function of (seed, parameters): the same command makes the same
 * bytes on any machine, so results can be compared across runs and commits.
 *
 * Random bytes come from AES-256-CTR keystreams keyed by sha256(seed, label): fast
 * (GB/s) and reproducible. The image mixes the regions a real disk image has: random
 * (compressed media, encrypted blobs), zeros (free space), text (logs, source) and
 * repeated blocks (duplicated files). Its v2 changes about 1% of the bytes by scattered
 * overwrites and adds small insertions, which shift everything after them — the case
 * fixed-size blocking cannot survive.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { mkdir, open, readdir, rm, utimes, writeFile, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

const PIECE = 4 * 1024 * 1024
const ZEROS = new Uint8Array(PIECE)

/** A keystream: `bytes(n)` returns the next n pseudo-random bytes of the stream `label`. */
export class Stream {
  private readonly cipher
  constructor (seed: string, label: string) {
    const key = createHash('sha256').update(`${seed}\0${label}`).digest()
    this.cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  }

  bytes (n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let off = 0; off < n; off += PIECE) {
      const len = Math.min(PIECE, n - off)
      out.set(this.cipher.update(ZEROS.subarray(0, len)), off)
    }
    return out
  }
}

/** Small seeded PRNG for decisions (sizes, positions, kinds): xorshift128+ over doubles. */
export class Rng {
  private s0: bigint
  private s1: bigint
  constructor (seed: string, label: string) {
    const h = createHash('sha256').update(`${seed}\0rng\0${label}`).digest()
    this.s0 = h.readBigUInt64LE(0) | 1n
    this.s1 = h.readBigUInt64LE(8) | 2n
  }

  /** Uniform in [0, 1). */
  next (): number {
    let s1 = this.s0
    const s0 = this.s1
    this.s0 = s0
    s1 ^= (s1 << 23n) & 0xffffffffffffffffn
    this.s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n)
    return Number((this.s1 + s0) & 0x1fffffffffffffn) / 2 ** 53
  }

  /** Integer in [lo, hi]. */
  int (lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  pick<T> (weighted: Array<[T, number]>): T {
    const total = weighted.reduce((s, [, w]) => s + w, 0)
    let x = this.next() * total
    for (const [v, w] of weighted) { x -= w; if (x < 0) return v }
    return weighted[weighted.length - 1][0]
  }
}

const WORDS = ('the of and to in is for that on with as by at from this are be or an it not was which but ' +
  'error warning info debug worker shard loaded epoch step loss accuracy batch tensor model checkpoint ' +
  'import export function return const let await async class interface string number boolean true false ' +
  'null undefined config volume snapshot restore chunk store index manifest version bucket node peer ' +
  'request response status timeout retry connection stream buffer file folder path image dataset train ' +
  'eval metric gradient optimizer learning rate weight bias layer attention token vocab embedding').split(' ')

/** Log-like / source-like text: compressible, not periodic. */
export function text (stream: Stream, n: number): Uint8Array {
  const out = new Uint8Array(n)
  const rnd = stream.bytes(Math.ceil(n / 3) + 64)
  let r = 0
  let o = 0
  let line = 0
  while (o < n) {
    const head = `${String(line++).padStart(7, '0')} `
    for (let i = 0; i < head.length && o < n; i++) out[o++] = head.charCodeAt(i)
    const words = 4 + (rnd[r++ % rnd.length] & 7)
    for (let w = 0; w < words && o < n; w++) {
      const word = WORDS[((rnd[r++ % rnd.length] << 8) | rnd[r++ % rnd.length]) % WORDS.length]
      for (let i = 0; i < word.length && o < n; i++) out[o++] = word.charCodeAt(i)
      if (o < n) out[o++] = w === words - 1 ? 10 : 32
    }
  }
  return out
}

type RegionKind = 'random' | 'zeros' | 'text' | 'repeat'
const REGION_KINDS: Array<[RegionKind, number]> = [['random', 45], ['zeros', 20], ['text', 20], ['repeat', 15]]

interface Region { kind: RegionKind, offset: number, length: number, index: number }

export function imageRegions (seed: string, size: number): Region[] {
  const rng = new Rng(seed, 'image-regions')
  const regions: Region[] = []
  let offset = 0
  for (let index = 0; offset < size; index++) {
    const length = Math.min(size - offset, rng.int(256 * 1024, 8 * 1024 * 1024))
    regions.push({ kind: rng.pick(REGION_KINDS), offset, length, index })
    offset += length
  }
  return regions
}

function * regionPieces (seed: string, region: Region): Generator<Uint8Array> {
  const stream = new Stream(seed, `region-${region.index}`)
  if (region.kind === 'repeat') {
    const unit = stream.bytes(4096 * (1 + (region.index % 16)))
    for (let o = 0; o < region.length; o += unit.length) yield unit.subarray(0, Math.min(unit.length, region.length - o))
    return
  }
  for (let o = 0; o < region.length; o += PIECE) {
    const n = Math.min(PIECE, region.length - o)
    if (region.kind === 'zeros') yield ZEROS.subarray(0, n)
    else if (region.kind === 'text') yield text(stream, n)
    else yield stream.bytes(n)
  }
}

export function * imageV1 (seed: string, size: number): Generator<Uint8Array> {
  for (const region of imageRegions(seed, size)) yield * regionPieces(seed, region)
}

export interface Edit {
  /** Offset in v1. */
  at: number
  /** Bytes of v1 replaced (0 for an insertion). */
  remove: number
  insert: Uint8Array
}

/**
 * The v2 edits: per GiB, 200 scattered overwrites of 4–96 KiB (≈1% of the bytes) and 50
 * insertions of 1–4096 bytes, at seeded positions, non-overlapping.
 */
export function imageEdits (seed: string, size: number): Edit[] {
  const rng = new Rng(seed, 'image-edits')
  const stream = new Stream(seed, 'image-edit-bytes')
  const perGiB = size / 1024 ** 3
  const wanted: Edit[] = []
  for (let i = 0; i < Math.round(200 * perGiB); i++) {
    const n = rng.int(4096, 96 * 1024)
    wanted.push({ at: rng.int(0, size - n), remove: n, insert: stream.bytes(n) })
  }
  for (let i = 0; i < Math.round(50 * perGiB); i++) {
    wanted.push({ at: rng.int(0, size), remove: 0, insert: stream.bytes(rng.int(1, 4096)) })
  }
  wanted.sort((a, b) => a.at - b.at)
  const edits: Edit[] = []
  let end = -1
  for (const e of wanted) {
    if (e.at <= end) continue
    edits.push(e)
    end = e.at + e.remove
  }
  return edits
}

/** Applies sorted, non-overlapping edits to a stream of v1 bytes. */
export function * applyEdits (source: Iterable<Uint8Array>, edits: Edit[]): Generator<Uint8Array> {
  let pos = 0 // v1 offset of piece[0]
  let next = 0
  let skip = 0 // v1 bytes still to drop (inside an overwrite)
  for (let piece of source) {
    while (piece.length > 0) {
      if (skip > 0) {
        const n = Math.min(skip, piece.length)
        skip -= n; pos += n; piece = piece.subarray(n)
        continue
      }
      const e = edits[next]
      if (e === undefined || e.at >= pos + piece.length) {
        yield piece; pos += piece.length; break
      }
      const keep = e.at - pos
      if (keep > 0) { yield piece.subarray(0, keep); pos += keep; piece = piece.subarray(keep) }
      yield e.insert
      skip = e.remove
      next++
    }
  }
  // insertions at the very end
  for (; next < edits.length; next++) yield edits[next].insert
}

export async function writeStream (path: string, pieces: Iterable<Uint8Array>): Promise<{ bytes: number, sha256: string }> {
  const fd = await open(path, 'w')
  const hash = createHash('sha256')
  let bytes = 0
  try {
    for (const p of pieces) { await fd.write(p); hash.update(p); bytes += p.length }
    await fd.sync()
  } finally {
    await fd.close()
  }
  return { bytes, sha256: hash.digest('hex') }
}

// ---- the tree ----------------------------------------------------------------------

type FileKind = 'tiny' | 'small' | 'medium' | 'large' | 'huge'
const FILE_KINDS: Array<[FileKind, number]> = [['tiny', 35], ['small', 35], ['medium', 22], ['large', 7.75], ['huge', 0.25]]
const SIZE_RANGE: Record<FileKind, [number, number]> = {
  tiny: [0, 1024],
  small: [1025, 16 * 1024],
  medium: [16 * 1024 + 1, 64 * 1024],
  large: [64 * 1024 + 1, 1024 * 1024],
  huge: [1024 * 1024 + 1, 4 * 1024 * 1024]
}
const FIXED_MTIME = new Date('2026-01-01T00:00:00Z')
const V2_MTIME = new Date('2026-02-01T00:00:00Z')

export interface TreeFile { index: number, path: string, kind: FileKind, size: number, textual: boolean }

function treeFile (seed: string, index: number): TreeFile {
  const rng = new Rng(seed, `file-${index}`)
  const kind = rng.pick(FILE_KINDS)
  const [lo, hi] = SIZE_RANGE[kind]
  const textual = kind === 'tiny' || kind === 'small' || (kind === 'medium' && rng.next() < 0.5)
  const dir = `d${String(index % 20).padStart(2, '0')}/s${String(Math.floor(index / 20) % 10)}`
  const ext = textual ? 'txt' : 'bin'
  return { index, path: `${dir}/f${String(index).padStart(6, '0')}.${ext}`, kind, size: rng.int(lo, hi), textual }
}

function fileBytes (seed: string, f: TreeFile): Uint8Array {
  const stream = new Stream(seed, `file-bytes-${f.index}`)
  return f.textual ? text(stream, f.size) : stream.bytes(f.size)
}

export interface TreePlan {
  v1: TreeFile[]
  /** v2: v1 minus removed, plus added; modified files are changed on write. */
  removed: Set<number>
  modified: Set<number>
  added: TreeFile[]
}

/** v2: 2% of files modified (in-place overwrite, append or truncate), 0.5% removed, 0.5% added. */
export function treePlan (seed: string, files: number): TreePlan {
  const v1 = Array.from({ length: files }, (_, i) => treeFile(seed, i))
  const rng = new Rng(seed, 'tree-v2')
  const removed = new Set<number>()
  const modified = new Set<number>()
  while (modified.size < Math.round(files * 0.02)) modified.add(rng.int(0, files - 1))
  while (removed.size < Math.round(files * 0.005)) {
    const i = rng.int(0, files - 1)
    if (!modified.has(i)) removed.add(i)
  }
  const added = Array.from({ length: Math.round(files * 0.005) }, (_, i) => treeFile(seed, files + i))
  return { v1, removed, modified, added }
}

function modify (seed: string, f: TreeFile, data: Uint8Array): Uint8Array {
  const rng = new Rng(seed, `modify-${f.index}`)
  const stream = new Stream(seed, `modify-bytes-${f.index}`)
  const how = rng.pick([['overwrite', 2], ['append', 1], ['truncate', 1]] as Array<[string, number]>)
  if (how === 'append' || data.length < 16) {
    const extra = f.textual ? text(stream, rng.int(1, 2048)) : stream.bytes(rng.int(1, 2048))
    const out = new Uint8Array(data.length + extra.length)
    out.set(data); out.set(extra, data.length)
    return out
  }
  if (how === 'truncate') return data.subarray(0, rng.int(Math.floor(data.length / 2), data.length - 1))
  const n = Math.min(data.length, rng.int(1, 4096))
  const at = rng.int(0, data.length - n)
  const out = Uint8Array.from(data)
  out.set(stream.bytes(n), at)
  return out
}

export async function writeTree (seed: string, dir: string, plan: TreePlan, version: 1 | 2): Promise<{ files: number, bytes: number }> {
  await rm(dir, { recursive: true, force: true })
  const list = version === 1 ? plan.v1 : [...plan.v1.filter(f => !plan.removed.has(f.index)), ...plan.added]
  const made = new Set<string>()
  let bytes = 0
  for (const f of list) {
    const path = join(dir, f.path)
    const parent = path.slice(0, path.lastIndexOf('/'))
    if (!made.has(parent)) { await mkdir(parent, { recursive: true }); made.add(parent) }
    let data = fileBytes(seed, f)
    const changed = version === 2 && (plan.modified.has(f.index) || f.index >= plan.v1.length)
    if (version === 2 && plan.modified.has(f.index)) data = modify(seed, f, data)
    await writeFile(path, data)
    await utimes(path, changed ? V2_MTIME : FIXED_MTIME, changed ? V2_MTIME : FIXED_MTIME)
    bytes += data.length
  }
  return { files: list.length, bytes }
}

// ---- the data set as a whole -------------------------------------------------------

export interface DataSet {
  dir: string
  image: { v1: string, v2: string, size1: number, size2: number, sha1: string, sha2: string, edits: number, insertions: number, changedBytes: number }
  tree: { v1: string, v2: string, files1: number, files2: number, bytes1: number, bytes2: number }
}

/** Generates the data set into `dir`, or reuses it when a previous run left it complete. */
export async function makeDataSet (dir: string, seed: string, sizeMiB: number, files: number, log: (s: string) => void): Promise<DataSet> {
  const stamp = join(dir, 'dataset.json')
  let ds: DataSet | undefined
  try { ds = JSON.parse(await readFile(stamp, 'utf8')) as DataSet } catch {}
  if (ds !== undefined) {
    try {
      for (const p of [ds.image.v1, ds.image.v2, ds.tree.v1, ds.tree.v2]) await stat(p)
      log(`reusing data set in ${dir}`)
      return ds
    } catch {}
    // run.ts moves a version to live/ while a tool snapshots it: never wipe under it
    const live = await readdir(join(dir, 'live')).catch(() => [])
    if (live.length > 0) throw new Error(`${dir}/live is not empty: a benchmark is running on this data set (or crashed; move live/* back to its name)`)
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  const size = sizeMiB * 1024 * 1024
  const edits = imageEdits(seed, size)
  log(`generating ${sizeMiB} MiB image v1 and v2 (${edits.length} edits)`)
  const v1 = join(dir, 'image-v1.img')
  const v2 = join(dir, 'image-v2.img')
  const w1 = await writeStream(v1, imageV1(seed, size))
  const w2 = await writeStream(v2, applyEdits(imageV1(seed, size), edits))
  log(`generating tree of ${files} files v1 and v2`)
  const plan = treePlan(seed, files)
  const t1 = await writeTree(seed, join(dir, 'tree-v1'), plan, 1)
  const t2 = await writeTree(seed, join(dir, 'tree-v2'), plan, 2)
  const made: DataSet = {
    dir,
    image: {
      v1, v2, size1: w1.bytes, size2: w2.bytes, sha1: w1.sha256, sha2: w2.sha256,
      edits: edits.length, insertions: edits.filter(e => e.remove === 0).length,
      changedBytes: edits.reduce((s, e) => s + e.insert.length, 0)
    },
    tree: { v1: join(dir, 'tree-v1'), v2: join(dir, 'tree-v2'), files1: t1.files, files2: t2.files, bytes1: t1.bytes, bytes2: t2.bytes }
  }
  await writeFile(stamp, JSON.stringify(made, null, 2))
  return made
}
