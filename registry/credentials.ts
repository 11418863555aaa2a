/**
 * Registry credentials saved by `rok login` in the node home (`registry.json`, mode 0600),
 * read by the CLI verbs and, later, by the node. Written to a temporary name and renamed,
 * so a crash never leaves half a file.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RokError } from '../protocol/errors.ts'

export const CREDENTIALS_FILE = 'registry.json'
export const NOT_LOGGED_IN = 'ERR_NOT_LOGGED_IN'

export interface RegistryCredentials {
  url: string
  token: string
  user: string
}

export async function saveCredentials (home: string, creds: RegistryCredentials): Promise<string> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  const path = join(home, CREDENTIALS_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(creds, null, 2) + '\n', { mode: 0o600, flush: true })
  await rename(tmp, path)
  return path
}

/** The saved credentials, or null when `rok login` was never run for this home. */
export async function loadCredentials (home: string): Promise<RegistryCredentials | null> {
  const path = join(home, CREDENTIALS_FILE)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new RokError(NOT_LOGGED_IN, `cannot read ${path}`, { cause: err })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (cause) {
    throw new RokError(NOT_LOGGED_IN, `${path} is not valid JSON; run 'rok login URL --token T' again`, { cause })
  }
  const c = raw as Partial<RegistryCredentials>
  if (typeof c?.url !== 'string' || typeof c.token !== 'string' || typeof c.user !== 'string') {
    throw new RokError(NOT_LOGGED_IN, `${path} is incomplete; run 'rok login URL --token T' again`)
  }
  return { url: c.url, token: c.token, user: c.user }
}
