/**
 * The node home: one folder holding everything a node keeps — `rok.json` (format marker),
 * `identity.key`, `db/` (level: block index, buckets) and `packs/` (chunk packs).
 * Only one process opens a home at a time; level's lock enforces it.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { RokError } from '../protocol/errors.ts'
import { writeFileDurable } from './fs-durable.ts'

export const HOME_FORMAT = 1

export const HomeErrorCode = {
  NO_HOME: 'ERR_NO_HOME',
  HOME_LOCKED: 'ERR_HOME_LOCKED',
  HOME_FORMAT: 'ERR_HOME_FORMAT'
} as const

export interface HomeLayout {
  home: string
  db: string
  packs: string
}

export function homeLayout (home: string): HomeLayout {
  return { home, db: join(home, 'db'), packs: join(home, 'packs') }
}

/** Create the home if asked; otherwise insist it exists. Returns true when created now. */
export async function ensureHome (home: string, create: boolean): Promise<boolean> {
  const marker = join(home, 'rok.json')
  try {
    const meta = JSON.parse(await readFile(marker, 'utf8')) as { format?: number }
    if (meta.format !== HOME_FORMAT) {
      throw new RokError(HomeErrorCode.HOME_FORMAT, `${home} has home format ${String(meta.format)}, this rok understands ${HOME_FORMAT}`)
    }
    return false
  } catch (err) {
    if (err instanceof RokError) throw err
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new RokError(HomeErrorCode.HOME_FORMAT, `cannot read ${marker}: ${(err as Error).message}`, { cause: err })
  }
  if (!create) {
    throw new RokError(HomeErrorCode.NO_HOME, `no Rok home at ${home}: run 'rok init' first (or pass --home / set ROK_HOME)`, { details: { home } })
  }
  await mkdir(home, { recursive: true, mode: 0o700 })
  await writeFileDurable(marker, JSON.stringify({ format: HOME_FORMAT, createdAt: new Date().toISOString() }) + '\n')
  return true
}

export async function openDb (path: string): Promise<Level<string, string>> {
  const db = new Level<string, string>(path)
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') {
      throw new RokError(HomeErrorCode.HOME_LOCKED, `another rok process is using ${path}; wait for it to finish or stop it (a running node daemon owns its home)`, { cause: err })
    }
    throw err
  }
  return db
}
