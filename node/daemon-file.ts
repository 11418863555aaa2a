/**
 * How the CLI finds the daemon that owns a home: the daemon writes `node.json` (its pid,
 * API URL, peer ID, addresses) when it is up and removes it when it stops, and keeps the
 * API token in `api-token` (mode 0600) so only users who can read the home can drive it.
 */
import { randomBytes } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileDurable } from './fs-durable.ts'

export const DAEMON_FILE = 'node.json'
export const TOKEN_FILE = 'api-token'

export interface DaemonInfo {
  pid: number
  api: string
  peerId: string
  addrs: string[]
  startedAt: string
}

export async function readDaemonInfo (home: string): Promise<DaemonInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(home, DAEMON_FILE), 'utf8')) as DaemonInfo
  } catch {
    return undefined
  }
}

export async function writeDaemonInfo (home: string, info: DaemonInfo): Promise<void> {
  await writeFileDurable(join(home, DAEMON_FILE), JSON.stringify(info, null, 2) + '\n')
}

export async function removeDaemonInfo (home: string): Promise<void> {
  await rm(join(home, DAEMON_FILE), { force: true })
}

export async function readApiToken (home: string): Promise<string | undefined> {
  try {
    return (await readFile(join(home, TOKEN_FILE), 'utf8')).trim()
  } catch {
    return undefined
  }
}

export async function ensureApiToken (home: string): Promise<string> {
  const existing = await readApiToken(home)
  if (existing !== undefined && existing.length >= 32) return existing
  const token = randomBytes(32).toString('base64url')
  await writeFileDurable(join(home, TOKEN_FILE), token + '\n', 0o600)
  return token
}
