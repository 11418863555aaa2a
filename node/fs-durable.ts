/** Small durable-write helpers: temp name, fsync, rename, fsync the folder. */
import { open, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'

export async function writeFileDurable (path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  const temp = `${path}.tmp-${randomBytes(4).toString('hex')}`
  const fd = await open(temp, 'wx', mode)
  try {
    await fd.writeFile(data)
    await fd.sync()
  } finally {
    await fd.close()
  }
  await rename(temp, path)
  await syncDir(dirname(path))
}

export async function syncDir (path: string): Promise<void> {
  const fd = await open(path, 'r')
  try { await fd.sync() } finally { await fd.close() }
}
