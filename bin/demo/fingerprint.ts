/**
 * A tree's fingerprint: for every entry its type, permission bits, mtime, size, symlink
 * target and the SHA-256 of its bytes. Mtimes match within a microsecond: restore sets
 * them through a double, which cannot carry every nanosecond (as test/fixtures/tree-compare).
 * The demo takes one of v1 before changing the dataset, so a restore of v1 made minutes
 * later on another cluster can be checked byte for byte without keeping a copy of v1.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink } from 'node:fs/promises'
import { join } from 'node:path'

export interface Entry {
  /** Type, mode, size, link target and content hash: must match exactly. */
  what: string
  mtimeNs: bigint
}

export type Fingerprint = Map<string, Entry>

export async function fingerprintTree (root: string, signal?: AbortSignal): Promise<Fingerprint> {
  const out: Fingerprint = new Map()
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name < b.name ? -1 : 1)
    for (const e of entries) {
      signal?.throwIfAborted()
      const path = join(dir, e.name)
      const name = rel === '' ? e.name : `${rel}/${e.name}`
      const s = await lstat(path, { bigint: true })
      const mode = (s.mode & 0o7777n).toString(8)
      if (s.isDirectory()) {
        out.set(name, { what: `dir ${mode}`, mtimeNs: s.mtimeNs })
        await walk(path, name)
      } else if (s.isSymbolicLink()) {
        out.set(name, { what: `symlink ${await readlink(path)}`, mtimeNs: 0n })
      } else if (s.isFile()) {
        out.set(name, { what: `file ${mode} ${s.size} ${await hashFile(path, signal)}`, mtimeNs: s.mtimeNs })
      } else {
        out.set(name, { what: 'other', mtimeNs: 0n })
      }
    }
  }
  await walk(root, '')
  return out
}

async function hashFile (path: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(path, { highWaterMark: 1024 * 1024, signal })) hash.update(piece as Buffer)
  return hash.digest('hex')
}

/** Paths whose fingerprints differ (missing on either side included), sorted. */
export function differences (expected: Fingerprint, actual: Fingerprint): string[] {
  const paths = new Set([...expected.keys(), ...actual.keys()])
  const same = (a: Entry | undefined, b: Entry | undefined): boolean => {
    if (a === undefined || b === undefined) return false
    const delta = a.mtimeNs - b.mtimeNs
    return a.what === b.what && delta <= 1000n && delta >= -1000n
  }
  return [...paths].filter(p => !same(expected.get(p), actual.get(p))).sort()
}
