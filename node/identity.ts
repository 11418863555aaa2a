/**
 * The node's identity: an Ed25519 key kept in the node home (`identity.key`, mode 0600).
 * It signs version records and is the node's libp2p peer ID.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RokError } from '../protocol/errors.ts'
import { writeFileDurable } from './fs-durable.ts'

export const IDENTITY_FILE = 'identity.key'

export async function loadOrCreateIdentity (home: string): Promise<PrivateKey> {
  const path = join(home, IDENTITY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RokError('ERR_BAD_IDENTITY', `cannot read the node identity ${path}: ${(err as Error).message}`, { cause: err })
    }
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileDurable(path, privateKeyToProtobuf(key), 0o600)
  return key
}
