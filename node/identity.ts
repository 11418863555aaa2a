/**
 * The node's identity: an Ed25519 key kept in the node home (`identity.key`, mode 0600),
 * created on first use and written crash-safe. It signs version records and is the
 * node's libp2p peer ID.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { RokError } from '../protocol/errors.ts'
import { writeFileDurable } from './fs-durable.ts'
import { P2PErrorCode } from './p2p/errors.ts'

export const IDENTITY_FILE = 'identity.key'

export async function loadOrCreateIdentity (home: string, options: AbortOptions = {}): Promise<PrivateKey> {
  return await loadOrCreatePrivateKey(join(home, IDENTITY_FILE), options)
}

/** Read the key at `file`, or create one there when the file does not exist. */
export async function loadOrCreatePrivateKey (file: string, options: AbortOptions = {}): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file, { signal: options.signal })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    await writeFileDurable(file, privateKeyToProtobuf(key), 0o600)
    return key
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(bytes)
  } catch (cause) {
    throw new RokError(P2PErrorCode.INVALID_PRIVATE_KEY, `${file} is not a libp2p private key`, { cause, details: { file } })
  }
  if (key.type !== 'Ed25519') {
    throw new RokError(P2PErrorCode.INVALID_PRIVATE_KEY, `${file} holds a ${key.type} key; a Rok node key is Ed25519`, { details: { file } })
  }
  return key
}
