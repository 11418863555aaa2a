/**
 * An object backend in a local folder (a mounted volume, or tests): one file per object,
 * written to a temporary name, fsynced and renamed, so a reader never sees half an object.
 */
import { mkdir, open, readdir, stat, unlink } from 'node:fs/promises'
import { dirname, join, relative, sep } from 'node:path'
import { RokError } from '../../protocol/errors.ts'
import { writeFileDurable } from '../fs-durable.ts'
import { checkKey, notFound, type ByteRange, type ObjectBackend, type ObjectInfo } from './backend.ts'
import { TierErrorCode } from './errors.ts'

export function localBackend (root: string): ObjectBackend {
  const path = (key: string): string => join(root, ...checkKey(key).split('/'))
  const location = `folder ${root}`
  return {
    location,
    async check () {
      const s = await stat(root).catch(() => undefined)
      if (s?.isDirectory() !== true) {
        throw new RokError(TierErrorCode.NO_SUCH_BUCKET, `tier folder ${root} does not exist or is not a folder: create it first`, { details: { root } })
      }
    },
    async put (key, body, options = {}) {
      options.signal?.throwIfAborted()
      const file = path(key)
      await mkdir(dirname(file), { recursive: true })
      await writeFileDurable(file, body)
    },
    async get (key, options = {}) {
      options.signal?.throwIfAborted()
      let fd
      try {
        fd = await open(path(key), 'r')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(location, key, err)
        throw err
      }
      try {
        const size = (await fd.stat()).size
        const { offset, length } = resolveRange(options.range, size)
        const out = new Uint8Array(length)
        let done = 0
        while (done < length) {
          const { bytesRead } = await fd.read(out, done, length - done, offset + done)
          if (bytesRead === 0) break
          done += bytesRead
        }
        return out.subarray(0, done)
      } finally {
        await fd.close()
      }
    },
    async head (key) {
      const s = await stat(path(key)).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return undefined; throw err })
      return s === undefined ? undefined : { key, size: s.size, modified: s.mtimeMs }
    },
    async list (prefix, options = {}) {
      const out: ObjectInfo[] = []
      const walk = async (dir: string): Promise<void> => {
        options.signal?.throwIfAborted()
        const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') return []; throw err })
        for (const e of entries) {
          const full = join(dir, e.name)
          if (e.isDirectory()) { await walk(full); continue }
          if (!e.isFile() || e.name.includes('.tmp-')) continue
          const key = relative(root, full).split(sep).join('/')
          if (!key.startsWith(prefix)) continue
          const s = await stat(full).catch(() => undefined)
          if (s !== undefined) out.push({ key, size: s.size, modified: s.mtimeMs })
        }
      }
      // Only walk the folder the prefix names, not the whole tree.
      const slash = prefix.lastIndexOf('/')
      await walk(slash < 0 ? root : join(root, ...prefix.slice(0, slash).split('/')))
      return out.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    },
    async delete (key) {
      await unlink(path(key)).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err })
    }
  }
}

/** Resolve a range against an object size, cut short at its end as S3 does. */
export function resolveRange (range: ByteRange | undefined, size: number): { offset: number, length: number } {
  if (range === undefined) return { offset: 0, length: size }
  return { offset: Math.min(range.offset, size), length: Math.max(0, Math.min(range.length, size - range.offset)) }
}
