/**
 * Fixtures for registry tests: a registry on a temporary folder (returned with its
 * cleanup), users with tokens, node keys, and signed version records.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { buildRegistry, type Registry, type RegistryInit } from '../../registry/app.ts'
import { chunkCid, type CID } from '../../protocol/cid.ts'
import { signVersionRecord, type EncodedRecord } from '../../protocol/record.ts'
import { signNodeProof } from '../../protocol/node-proof.ts'

export const ADMIN_TOKEN = 'test-admin-token-0123456789'

export interface TestRegistry extends Registry {
  dir: string
  admin: Record<string, string>
  /** inject with an optional token; returns status and parsed JSON */
  call: (method: string, url: string, opts?: { token?: string, body?: unknown, headers?: Record<string, string>, raw?: string }) => Promise<{ status: number, body: any }>
}

export async function startTestRegistry (init: Partial<RegistryInit> = {}, dir?: string): Promise<[TestRegistry, () => Promise<void>]> {
  const folder = dir ?? await mkdtemp(join(tmpdir(), 'rok-registry-test-'))
  const registry = await buildRegistry({ dataDir: folder, adminToken: ADMIN_TOKEN, rateLimit: false, ...init })
  const call: TestRegistry['call'] = async (method, url, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers }
    if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`
    if (opts.raw !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json'
    const res = await registry.app.inject({ method: method as any, url, headers, payload: opts.raw ?? (opts.body === undefined ? undefined : opts.body as any) })
    let body: any
    try { body = res.json() } catch { body = res.body }
    return { status: res.statusCode, body }
  }
  const t: TestRegistry = { ...registry, dir: folder, admin: { authorization: `Bearer ${ADMIN_TOKEN}` }, call }
  return [t, async () => {
    await registry.app.close()
    if (dir === undefined) await rm(folder, { recursive: true, force: true })
  }]
}

/** Create a user (as admin) and return their token. */
export async function addUser (r: TestRegistry, name: string, admin = false): Promise<string> {
  const res = await r.call('POST', '/v1/users', { token: ADMIN_TOKEN, body: { name, admin } })
  if (res.status !== 201) throw new Error(`could not create user ${name}: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.token
}

export async function expectOk (p: Promise<{ status: number, body: any }>, status = 200): Promise<any> {
  const res = await p
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`)
  return res.body
}

export async function nodeKey (): Promise<PrivateKey> {
  return await generateKeyPair('Ed25519')
}

/** Register `key` as a node of the token's user, through challenge signing. */
export async function registerNode (r: TestRegistry, token: string, key: PrivateKey, addresses: string[] = ['/ip4/127.0.0.1/tcp/4001']): Promise<string> {
  const peer = peerIdFromPrivateKey(key).toString()
  const { challenge } = await expectOk(r.call('POST', '/v1/nodes/challenge', { token, body: { peer } }))
  const proof = await signNodeProof(Buffer.from(challenge, 'base64'), key)
  await expectOk(r.call('PUT', `/v1/nodes/${peer}`, { token, body: { addresses, challenge, signature: Buffer.from(proof.signature).toString('base64') } }))
  return peer
}

/** A signed record for `bucket@seq`, chained to `parent`. */
export async function versionRecord (key: PrivateKey, bucket: string, seq: number, parent: CID | null, message = `v${seq}`): Promise<EncodedRecord> {
  return await signVersionRecord({
    bucket,
    seq,
    parent,
    root: chunkCid(new TextEncoder().encode(`${bucket}@${seq}`)),
    kind: 'tree',
    size: 1000 * seq,
    createdAt: 1_700_000_000_000 + seq,
    message
  }, key)
}

export function b64 (bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64')
}
