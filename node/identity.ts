/**
 * The node's identity: an Ed25519 key kept in the node home (`identity.key`, mode 0600,
 * libp2p's private-key protobuf), created on first use and written crash-safe. It signs
 * version records and is the node's libp2p peer ID.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { Ed25519Key } from '../protocol/ed25519.ts'
import { RokError, isRokError } from '../protocol/errors.ts'
import { writeFileDurable } from './fs-durable.ts'
import { P2PErrorCode } from './p2p/errors.ts'

export const IDENTITY_FILE = 'identity.key'

export async function loadOrCreateIdentity (home: string, options: { signal?: AbortSignal } = {}): Promise<Ed25519Key> {
  return await loadOrCreatePrivateKey(join(home, IDENTITY_FILE), options)
}

/** Read the key at `file`, or create one there when the file does not exist. */
export async function loadOrCreatePrivateKey (file: string, options: { signal?: AbortSignal } = {}): Promise<Ed25519Key> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file, { signal: options.signal })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const key = Ed25519Key.generate()
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    await writeFileDurable(file, key.toProtobuf(), 0o600)
    return key
  }
  try {
    return Ed25519Key.fromProtobuf(bytes)
  } catch (err) {
    if (!isRokError(err)) throw err
    throw new RokError(P2PErrorCode.INVALID_PRIVATE_KEY, `${file}: ${err.message}`, { cause: err, details: { file } })
  }
}
