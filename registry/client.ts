/**
 * Typed client for the registry's HTTP API, used by the node and the CLI. Every call
 * takes `{ signal }` and has its own deadline; failures are `RokError`s carrying the
 * registry's code (ERR_NOT_FOUND, ERR_FORBIDDEN, …) or ERR_REGISTRY_UNAVAILABLE when the
 * registry cannot be reached — which the node treats as "queue and retry later".
 */
import { publicKeyFromProtobuf } from '@libp2p/crypto/keys'
import type { PublicKey } from '@libp2p/interface'
import { peerIdOfSigner, type Ed25519Signer } from '../protocol/ed25519.ts'
import { parseBucketName } from '../protocol/bucket-name.ts'
import { RokError } from '../protocol/errors.ts'
import { verifyGrant, type SignedGrant } from '../protocol/grant.ts'
import { signNodeProof } from '../protocol/node-proof.ts'
import type {
  AuditEntry, Bucket, Challenge, CreateBucketBody, CreateGroupBody, ErrorBody, Group, GrantResponse, Identity, NewToken,
  NodeInfo, Provider, RegistryInfo, Role, Rule, SearchQuery, SearchResult, TokenInfo, UpdateBucketBody, UpdateGroupBody, VersionList,
  VersionRef, VersionWithRecord
} from '../protocol/registry-api.ts'
import { API_PREFIX } from '../protocol/registry-api.ts'
import { RegistryErrorCode } from './errors.ts'

export const DEFAULT_CLIENT_TIMEOUT_MS = 10_000

export interface RegistryClientInit {
  /** Base URL, e.g. `http://registry.example:7447`. */
  url: string
  /** API token; without it only public reads work. */
  token?: string
  /** Deadline per call. @default 10000 */
  timeoutMs?: number
  /** Clock used to check fresh grants. @default Date.now */
  now?: () => number
}

export interface CallOptions {
  signal?: AbortSignal
}

export interface IssuedGrant {
  /** The signed grant's DAG-CBOR bytes, as nodes show them to peers. */
  bytes: Uint8Array
  grant: SignedGrant
}

export interface RegistryClient {
  readonly url: string
  info: (o?: CallOptions) => Promise<RegistryInfo>
  /** The registry's grant-signing key (fetch once and pin it). */
  publicKey: (o?: CallOptions) => Promise<PublicKey>
  /** Check the token (rate-limited by the registry); what `rok login` does. */
  login: (o?: CallOptions) => Promise<Identity>
  whoami: (o?: CallOptions) => Promise<Identity>
  createUser: (name: string, opts?: { admin?: boolean }, o?: CallOptions) => Promise<NewToken>
  listTokens: (o?: CallOptions) => Promise<TokenInfo[]>
  createToken: (o?: CallOptions) => Promise<NewToken>
  revokeToken: (id: string, o?: CallOptions) => Promise<TokenInfo>
  createGroup: (group: CreateGroupBody, o?: CallOptions) => Promise<Group>
  updateGroup: (group: string, changes: UpdateGroupBody, o?: CallOptions) => Promise<Group>
  getGroup: (name: string, o?: CallOptions) => Promise<Group>
  setMember: (group: string, user: string, role: Role, o?: CallOptions) => Promise<Group>
  removeMember: (group: string, user: string, o?: CallOptions) => Promise<Group>
  createBucket: (bucket: string, opts?: Omit<CreateBucketBody, 'name'>, o?: CallOptions) => Promise<Bucket>
  getBucket: (bucket: string, o?: CallOptions) => Promise<Bucket>
  updateBucket: (bucket: string, changes: UpdateBucketBody, o?: CallOptions) => Promise<Bucket>
  listRules: (bucket: string, o?: CallOptions) => Promise<Rule[]>
  addRule: (bucket: string, rule: Rule, o?: CallOptions) => Promise<Rule[]>
  removeRule: (bucket: string, rule: Rule, o?: CallOptions) => Promise<Rule[]>
  /** Record a signed version record (protocol/record.ts bytes); retrying the same record is safe. */
  appendVersion: (bucket: string, record: Uint8Array, o?: CallOptions) => Promise<VersionRef>
  listVersions: (bucket: string, page?: { after?: number, limit?: number }, o?: CallOptions) => Promise<VersionList>
  getVersion: (bucket: string, seq: number, o?: CallOptions) => Promise<VersionWithRecord & { recordBytes: Uint8Array }>
  /** Prove this node holds `key` and register its addresses under the caller's user. */
  registerNode: (key: Ed25519Signer, addresses: string[], o?: CallOptions) => Promise<NodeInfo>
  listNodes: (o?: CallOptions) => Promise<NodeInfo[]>
  /** A fresh grant for `peer` (one of the caller's nodes), verified against the registry key. */
  requestGrant: (bucket: string, peer: string, o?: CallOptions) => Promise<IssuedGrant>
  /** Same as requestGrant: a renewal is a new grant; call it before `expires`. */
  renewGrant: (bucket: string, peer: string, o?: CallOptions) => Promise<IssuedGrant>
  announceProvider: (bucket: string, peer: string, seq: number, o?: CallOptions) => Promise<Provider>
  listProviders: (bucket: string, o?: CallOptions) => Promise<Provider[]>
  search: (query: SearchQuery, o?: CallOptions) => Promise<SearchResult>
  audit: (query?: { group?: string, limit?: number }, o?: CallOptions) => Promise<AuditEntry[]>
}

function bucketPath (bucket: string): string {
  const ref = parseBucketName(bucket)
  return `${API_PREFIX}/buckets/${ref.group}/${ref.name}`
}

function unavailable (message: string, cause?: unknown): RokError {
  return new RokError(RegistryErrorCode.UNAVAILABLE, message, { cause })
}

export function createRegistryClient (init: RegistryClientInit): RegistryClient {
  let base: URL
  try {
    base = new URL(init.url)
  } catch (cause) {
    throw new RokError(RegistryErrorCode.INVALID_REQUEST, `'${init.url.slice(0, 100)}' is not a registry URL (e.g. http://registry.example:7447)`, { cause })
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new RokError(RegistryErrorCode.INVALID_REQUEST, `registry URL must be http or https, not ${base.protocol}`)
  }
  const url = base.toString().replace(/\/$/, '')
  const timeoutMs = init.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS
  let cachedKey: { info: RegistryInfo, key: PublicKey } | undefined

  async function call<T> (method: string, path: string, body?: unknown, o: CallOptions = {}): Promise<T> {
    const signals = [AbortSignal.timeout(timeoutMs)]
    if (o.signal !== undefined) signals.push(o.signal)
    const headers: Record<string, string> = { accept: 'application/json' }
    if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.any(signals) })
    } catch (cause) {
      if (o.signal?.aborted === true) throw o.signal.reason ?? cause
      const timedOut = (cause as Error).name === 'TimeoutError'
      throw unavailable(timedOut ? `registry ${url} did not answer ${method} ${path} within ${timeoutMs} ms` : `registry ${url} is unreachable`, cause)
    }
    let payload: unknown
    try {
      payload = await res.json()
    } catch (cause) {
      throw unavailable(`registry ${url} answered ${method} ${path} with ${res.status} and no JSON body`, cause)
    }
    if (!res.ok) {
      const err = payload as Partial<ErrorBody>
      if (typeof err?.code !== 'string' || typeof err.message !== 'string') throw unavailable(`registry ${url} answered ${res.status} without an error code`)
      throw new RokError(err.code, err.message, { details: { ...(err.details ?? {}), status: res.status } })
    }
    return payload as T
  }

  async function registryKey (o?: CallOptions): Promise<{ info: RegistryInfo, key: PublicKey }> {
    if (cachedKey === undefined) {
      const info = await call<RegistryInfo>('GET', `${API_PREFIX}/registry`, undefined, o)
      cachedKey = { info, key: publicKeyFromProtobuf(Buffer.from(info.publicKey, 'base64')) }
    }
    return cachedKey
  }

  async function requestGrant (bucket: string, peer: string, o?: CallOptions): Promise<IssuedGrant> {
    const res = await call<GrantResponse>('POST', `${bucketPath(bucket)}/grants`, { peer }, o)
    const { key } = await registryKey(o)
    const bytes = new Uint8Array(Buffer.from(res.grant, 'base64'))
    const grant = await verifyGrant(bytes, key, (init.now ?? Date.now)())
    return { bytes, grant }
  }

  return {
    url,
    info: async (o) => (await registryKey(o)).info,
    publicKey: async (o) => (await registryKey(o)).key,
    login: async (o) => await call('POST', `${API_PREFIX}/login`, undefined, o),
    whoami: async (o) => await call('GET', `${API_PREFIX}/me`, undefined, o),
    createUser: async (name, opts = {}, o) => await call('POST', `${API_PREFIX}/users`, { name, ...opts }, o),
    listTokens: async (o) => (await call<{ tokens: TokenInfo[] }>('GET', `${API_PREFIX}/tokens`, undefined, o)).tokens,
    createToken: async (o) => await call('POST', `${API_PREFIX}/tokens`, undefined, o),
    revokeToken: async (id, o) => await call('DELETE', `${API_PREFIX}/tokens/${encodeURIComponent(id)}`, undefined, o),
    createGroup: async (group, o) => await call('POST', `${API_PREFIX}/groups`, group, o),
    updateGroup: async (group, changes, o) => await call('PATCH', `${API_PREFIX}/groups/${encodeURIComponent(group)}`, changes, o),
    getGroup: async (name, o) => await call('GET', `${API_PREFIX}/groups/${encodeURIComponent(name)}`, undefined, o),
    setMember: async (group, user, role, o) => await call('PUT', `${API_PREFIX}/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`, { role }, o),
    removeMember: async (group, user, o) => await call('DELETE', `${API_PREFIX}/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(user)}`, undefined, o),
    createBucket: async (bucket, opts = {}, o) => {
      const ref = parseBucketName(bucket)
      return await call('POST', `${API_PREFIX}/groups/${ref.group}/buckets`, { name: ref.name, ...opts }, o)
    },
    getBucket: async (bucket, o) => await call('GET', bucketPath(bucket), undefined, o),
    updateBucket: async (bucket, changes, o) => await call('PATCH', bucketPath(bucket), changes, o),
    listRules: async (bucket, o) => (await call<{ rules: Rule[] }>('GET', `${bucketPath(bucket)}/rules`, undefined, o)).rules,
    addRule: async (bucket, rule, o) => (await call<{ rules: Rule[] }>('POST', `${bucketPath(bucket)}/rules`, rule, o)).rules,
    removeRule: async (bucket, rule, o) => (await call<{ rules: Rule[] }>('DELETE', `${bucketPath(bucket)}/rules`, rule, o)).rules,
    appendVersion: async (bucket, record, o) => await call('POST', `${bucketPath(bucket)}/versions`, { record: Buffer.from(record).toString('base64') }, o),
    listVersions: async (bucket, page = {}, o) => {
      const q = new URLSearchParams()
      if (page.after !== undefined) q.set('after', String(page.after))
      if (page.limit !== undefined) q.set('limit', String(page.limit))
      return await call('GET', `${bucketPath(bucket)}/versions${q.size > 0 ? `?${q}` : ''}`, undefined, o)
    },
    getVersion: async (bucket, seq, o) => {
      const v = await call<VersionWithRecord>('GET', `${bucketPath(bucket)}/versions/${seq}`, undefined, o)
      return { ...v, recordBytes: new Uint8Array(Buffer.from(v.record, 'base64')) }
    },
    registerNode: async (key, addresses, o) => {
      const self = peerIdOfSigner(key)
      const { challenge } = await call<Challenge>('POST', `${API_PREFIX}/nodes/challenge`, { peer: self }, o)
      const { peer, signature } = await signNodeProof(Buffer.from(challenge, 'base64'), key)
      return await call('PUT', `${API_PREFIX}/nodes/${peer}`, { addresses, challenge, signature: Buffer.from(signature).toString('base64') }, o)
    },
    listNodes: async (o) => (await call<{ nodes: NodeInfo[] }>('GET', `${API_PREFIX}/nodes`, undefined, o)).nodes,
    requestGrant,
    renewGrant: requestGrant,
    announceProvider: async (bucket, peer, seq, o) => await call('PUT', `${bucketPath(bucket)}/providers/${encodeURIComponent(peer)}`, { seq }, o),
    listProviders: async (bucket, o) => (await call<{ providers: Provider[] }>('GET', `${bucketPath(bucket)}/providers`, undefined, o)).providers,
    search: async (query, o) => {
      const q = new URLSearchParams()
      for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v))
      return await call('GET', `${API_PREFIX}/search${q.size > 0 ? `?${q}` : ''}`, undefined, o)
    },
    audit: async (query = {}, o) => {
      const q = new URLSearchParams()
      if (query.group !== undefined) q.set('group', query.group)
      if (query.limit !== undefined) q.set('limit', String(query.limit))
      return (await call<{ entries: AuditEntry[] }>('GET', `${API_PREFIX}/audit${q.size > 0 ? `?${q}` : ''}`, undefined, o)).entries
    }
  }
}
