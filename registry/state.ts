/**
 * Registry state: users, tokens, groups, buckets, nodes and providers, held in memory for
 * fast reads and written through to `level`. Version history and the audit log stay on
 * disk only. Every change runs in `change`, one at a time: the callback checks against
 * current state and collects store ops, policy changes and in-memory updates in a
 * `Change`; nothing is applied unless the whole batch is durable, so a rejected or failed
 * request leaves state exactly as it was.
 */
import { createHash, randomBytes } from 'node:crypto'
import type { Acl, PolicyChange } from './acl.ts'
import type { RegistryStore, StoreOp, Space } from './store.ts'
import { SearchIndex, type SearchDoc } from './search-index.ts'
import type { Visibility } from '../protocol/registry-api.ts'

export interface UserRec { name: string, admin: boolean, createdAt: number }
export interface TokenRec { id: string, hash: string, user: string, createdAt: number, lastUsedAt: number | null, revokedAt: number | null }
export interface GroupRec { name: string, visibility: Visibility, description: string, createdAt: number }
export interface BucketRec {
  group: string
  name: string
  description: string
  tags: string[]
  visibility: Visibility
  createdAt: number
  updatedAt: number
  latestSeq: number
  latestCid: string | null
}
/** A bucket as search indexes it; made anew with its record on every change. */
export interface BucketDoc extends SearchDoc {
  rec: BucketRec
  /** The bucket's JSON as a search hit up to its score, made by the search route on first use. */
  hitHead: string | null
}
export interface VersionRec {
  seq: number
  cid: string
  root: string
  parent: string | null
  kind: 'tree' | 'image'
  size: number
  publisher: string
  createdAt: number
  message: string
  signature: string
  record: string
  recordedAt: number
}
export interface NodeRec { peer: string, user: string, addresses: string[], registeredAt: number }
export interface ProviderRec { peer: string, seq: number, updatedAt: number }
export interface AuditRec { at: number, actor: string, action: string, target: string, details: Record<string, unknown> }

export function hashToken (token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** A new API token: 192 random bits; only its hash is kept. */
export function newToken (): string {
  return 'rok_' + randomBytes(24).toString('base64url')
}

/** The stored form of a token: its hash, and an id (the hash's first 16 hex digits) to name it by. */
export function tokenRecord (token: string, user: string, now: number): TokenRec {
  const hash = hashToken(token)
  return { id: hash.slice(0, 16), hash, user, createdAt: now, lastUsedAt: null, revokedAt: null }
}

export function bucketKey (group: string, name: string): string {
  return `${group}/${name}`
}

export function versionKey (bucket: string, seq: number): string {
  return `${bucket}!${String(seq).padStart(16, '0')}`
}

export class Change {
  readonly ops: StoreOp[] = []
  readonly policy: PolicyChange[] = []
  readonly after: Array<() => void> = []
  private readonly now: number
  private auditSeq = 0

  constructor (now: number) {
    this.now = now
  }

  put (space: Space, key: string, value: unknown): void {
    this.ops.push({ type: 'put', space, key, value })
  }

  del (space: Space, key: string): void {
    this.ops.push({ type: 'del', space, key })
  }

  acl (change: PolicyChange): void {
    this.ops.push(...change.ops)
    this.policy.push(change)
  }

  /** Run once the batch is durable: update the in-memory view. */
  then (fn: () => void): void {
    this.after.push(fn)
  }

  audit (actor: string, action: string, target: string, details: Record<string, unknown> = {}): void {
    const rec: AuditRec = { at: this.now, actor, action, target, details }
    this.put('audit', `${String(this.now).padStart(15, '0')}-${randomBytes(4).toString('hex')}-${this.auditSeq++}`, rec)
  }
}

export class RegistryState {
  readonly store: RegistryStore
  readonly acl: Acl
  readonly now: () => number
  readonly users = new Map<string, UserRec>()
  /** by token hash */
  readonly tokens = new Map<string, TokenRec>()
  readonly groups = new Map<string, GroupRec>()
  readonly buckets = new Map<string, BucketRec>()
  readonly nodes = new Map<string, NodeRec>()
  /** bucket key → peer → provider */
  readonly providers = new Map<string, Map<string, ProviderRec>>()
  readonly index = new SearchIndex<BucketDoc>()
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (store: RegistryStore, acl: Acl, now: () => number) {
    this.store = store
    this.acl = acl
    this.now = now
  }

  static async load (store: RegistryStore, acl: Acl, now: () => number): Promise<RegistryState> {
    const state = new RegistryState(store, acl, now)
    for await (const [k, v] of store.entries('users')) state.users.set(k, v)
    for await (const [k, v] of store.entries('tokens')) state.tokens.set(k, v)
    for await (const [k, v] of store.entries('groups')) state.groups.set(k, v)
    for await (const [k, v] of store.entries('buckets')) state.setBucket(v as BucketRec)
    for await (const [k, v] of store.entries('nodes')) state.nodes.set(k, v)
    for await (const [k, v] of store.entries('providers')) {
      const bucket = k.slice(0, k.indexOf('!'))
      state.providerMap(bucket).set((v as ProviderRec).peer, v)
    }
    state.index.prepare()
    return state
  }

  /** Run `fn` alone; apply what it collected only if it returns and the batch is written. */
  async change<T> (fn: (tx: Change) => Promise<T> | T): Promise<T> {
    const run = async (): Promise<T> => {
      const tx = new Change(this.now())
      const result = await fn(tx)
      await this.store.write(tx.ops)
      for (const p of tx.policy) await p.apply()
      for (const after of tx.after) after()
      return result
    }
    const next = this.queue.then(run, run)
    this.queue = next.catch(() => {})
    return await next
  }

  setBucket (rec: BucketRec): void {
    const key = bucketKey(rec.group, rec.name)
    this.buckets.set(key, rec)
    // Search compares every candidate's group and visibility: documents share their group's
    // name and a constant visibility, strings that stay in cache and compare by identity.
    const group = this.groups.get(rec.group)?.name ?? rec.group
    const visibility = rec.visibility === 'public' ? 'public' : 'private'
    this.index.upsert({ key, group, name: rec.name, description: rec.description, tags: rec.tags, visibility, updatedAt: rec.updatedAt, rec, hitHead: null })
  }

  providerMap (bucket: string): Map<string, ProviderRec> {
    let map = this.providers.get(bucket)
    if (map === undefined) {
      map = new Map()
      this.providers.set(bucket, map)
    }
    return map
  }
}
