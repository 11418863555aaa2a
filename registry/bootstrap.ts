/**
 * First-start setup: the registry's Ed25519 signing key (generated once, kept in the
 * store) and the first admin. The admin token is taken from the operator
 * (`--admin-token` / `ROK_ADMIN_TOKEN`) or generated and returned once to be printed;
 * only its hash is stored either way.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { invalidRequest } from './errors.ts'
import { newToken, tokenRecord, type RegistryState, type UserRec } from './state.ts'

export const ADMIN_USER = 'admin'
export const MIN_ADMIN_TOKEN_CHARS = 16

export async function loadSigningKey (state: RegistryState): Promise<PrivateKey> {
  const stored: string | undefined = await state.store.get('meta', 'signing-key')
  if (stored !== undefined) return privateKeyFromProtobuf(Buffer.from(stored, 'base64'))
  const key = await generateKeyPair('Ed25519')
  await state.change(tx => { tx.put('meta', 'signing-key', Buffer.from(privateKeyToProtobuf(key)).toString('base64')) })
  return key
}

/** Returns the admin token when this call generated it (to print once), else null. */
export async function ensureAdmin (state: RegistryState, adminToken: string | undefined): Promise<string | null> {
  if (adminToken !== undefined && (adminToken.length < MIN_ADMIN_TOKEN_CHARS || !/^[\x21-\x7e]+$/.test(adminToken) || adminToken.length > 256)) {
    throw invalidRequest(`the admin token must be ${MIN_ADMIN_TOKEN_CHARS}–256 printable characters without spaces`)
  }
  const hasAdmin = [...state.users.values()].some(u => u.admin)
  if (hasAdmin && adminToken === undefined) return null
  const token = adminToken ?? newToken()
  return await state.change(tx => {
    const now = state.now()
    const rec = tokenRecord(token, ADMIN_USER, now)
    if (state.tokens.has(rec.hash)) return null
    if (!state.users.has(ADMIN_USER)) {
      const user: UserRec = { name: ADMIN_USER, admin: true, createdAt: now }
      tx.put('users', ADMIN_USER, user)
      tx.then(() => { state.users.set(ADMIN_USER, user) })
    }
    tx.put('tokens', rec.hash, rec)
    tx.audit('registry', 'token.create', rec.id, { user: ADMIN_USER, source: adminToken === undefined ? 'generated' : 'operator' })
    tx.then(() => { state.tokens.set(rec.hash, rec) })
    return adminToken === undefined ? token : null
  })
}
