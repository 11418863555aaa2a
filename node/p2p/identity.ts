/**
 * The node's persistent libp2p identity: an Ed25519 key in a file in the node home,
 * created on first start. Written crash-safe (temp file, fsync, rename) with mode 0600.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, open, readFile, rename } from 'node:fs/promises'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { RokError } from '../../protocol/errors.ts'
import { P2PErrorCode } from './errors.ts'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'

/** Read the key at `file`, or create one there when the file does not exist. */
export async function loadOrCreatePrivateKey (file: string, options: AbortOptions = {}): Promise<PrivateKey> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(file, { signal: options.signal })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    const key = await generateKeyPair('Ed25519')
    await writeKeyFile(file, privateKeyToProtobuf(key))
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

async function writeKeyFile (file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 })
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  const handle = await open(temp, 'wx', 0o600)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await rename(temp, file)
  const dir = await open(dirname(file), 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}
