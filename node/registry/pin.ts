/**
 * The registry key pinned in the home (`registry-key.json`): trusted on first contact,
 * then every grant is checked against it, offline. A registry that later shows another
 * key is refused until the file is removed on purpose. Written to a temporary name and
 * renamed, so a crash never leaves half a file.
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PublicKey } from '@libp2p/interface'
import { PIN_FILE } from './constants.ts'

export interface PinnedKey {
  url: string
  key: PublicKey
}

export async function loadPinnedKey (home: string): Promise<PinnedKey | undefined> {
  let text: string
  try {
    text = await readFile(join(home, PIN_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const raw = JSON.parse(text) as { url: string, publicKey: string }
  return { url: raw.url, key: publicKeyFromProtobuf(Buffer.from(raw.publicKey, 'base64')) }
}

export async function savePinnedKey (home: string, pin: PinnedKey): Promise<void> {
  const path = join(home, PIN_FILE)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify({ url: pin.url, publicKey: Buffer.from(publicKeyToProtobuf(pin.key)).toString('base64') }, null, 2) + '\n', { mode: 0o600, flush: true })
  await rename(tmp, path)
}
