/**
 * The local snapshot engine: a node home opened as one object — block store, buckets and
 * identity — with the operations the CLI, the daemon and Kale call. Each operation takes
 * plain arguments and an AbortSignal and reports progress through a callback.
 */
import type { Ed25519Key } from '../protocol/ed25519.ts'
import type { Level } from 'level'
import { parseBucketName } from '../protocol/bucket-name.ts'
import type { CID } from '../protocol/cid.ts'
import { Buckets } from './buckets/index.ts'
import { ensureHome, homeLayout, openDb } from './home.ts'
import { loadOrCreateIdentity } from './identity.ts'
import { InodeTables, type InodeIndex } from './snapshot/inodes.ts'
import { GcCandidates, type CandidateIndex } from './policy/candidates.ts'
import { forgetVersions, type ForgetOutcome } from './policy/forget.ts'
import { pathFilter } from './policy/glob.ts'
import { PolicyStore } from './policy/policies.ts'
import type { RetentionRules } from './policy/retention.ts'
import type { KeyValue } from './sync/kv.ts'
import { collectGarbage, type GcProgress, type GcReport } from './policy/gc.ts'
import {
  ADDED_BLOCKS_CAP, diffManifests, FIRST_VERSION_BLOCKS_CAP, recordAddedBlocks, restoreManifest, snapshotVolume, type Change, type RestoreProgress, type RestoreResult,
  type SnapshotProgress, type SnapshotResult
} from './snapshot/index.ts'
import { openDiskStore, type BinaryIndex, type DiskBlockStore } from './store/index.ts'
import { openSyncState, type SyncState } from './sync/state.ts'
import { verifyStore, type VerifyReport } from './verify.ts'
import { Tier, backendFor, readTierConfig, type BackendHooks } from './tier/index.ts'

export interface EngineInit {
  home: string
  /** Create the home if it does not exist (rok init). @default false */
  create?: boolean
  /** Clock, injectable for tests. @default Date.now */
  now?: () => number
  /** Hooks on the tier's object-store requests (benchmarks count them). */
  tierHooks?: BackendHooks
}

export interface SnapshotRequest {
  bucket: string
  message?: string
  /** Reuse unchanged files by size, mtime and ctime even if their inode changed (see SnapshotOptions). */
  ignoreInode?: boolean
  signal?: AbortSignal
  onProgress?: (p: SnapshotProgress) => void
}

export interface SnapshotOutcome {
  bucket: string
  seq: number
  /** CID of the signed version record. */
  cid: string
  root: string
  kind: 'tree' | 'image'
  size: number
  files: number
  dirs: number
  chunks: number
  newChunks: number
  newBytes: number
  /** Bytes of files unchanged since the previous version, reused without reading. */
  reusedBytes: number
  manifestNodes: number
  seconds: number
}

export interface RestoreRequest {
  bucket: string
  seq?: number
  dest: string
  force?: boolean
  signal?: AbortSignal
  onProgress?: (p: RestoreProgress) => void
}

export interface StoreStats {
  buckets: number
  versions: number
  blocks: number
  /** Bytes of blocks in the store (after dedup). */
  storedBytes: number
  /** Bytes of pack files on disk (stored bytes plus headers and garbage). */
  packBytes: number
  packs: number
  /** Sum of the logical sizes of every version. */
  logicalBytes: number
  dedupRatio: number
}

export class Engine {
  readonly home: string
  readonly store: DiskBlockStore
  readonly buckets: Buckets
  readonly key: Ed25519Key
  readonly peerId: string
  /** Allow lists, the reverse index of block references, subscriptions (node/sync). */
  readonly sync: SyncState
  /** gc's deletion candidates; writes that may reference existing blocks take a lease. */
  readonly candidates: GcCandidates
  /** Bucket policies (schedules, globs, retention) and pinned versions. */
  readonly policies: PolicyStore
  /** Inodes of each bucket's last folder snapshot, for the parent-reuse check. */
  private readonly inodes: InodeTables
  /** The object-storage tier, when the home has one configured (`rok tier set`). */
  tier: Tier | undefined
  private readonly db: Level<string, string>
  private readonly now: () => number

  constructor (home: string, db: Level<string, string>, store: DiskBlockStore, buckets: Buckets, key: Ed25519Key, sync: SyncState, now: () => number, candidates: GcCandidates) {
    this.home = home
    this.candidates = candidates
    this.policies = new PolicyStore(db.sublevel<string, string>('policies', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as KeyValue)
    this.inodes = new InodeTables(db.sublevel<string, string>('inodes', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as InodeIndex)
    this.sync = sync
    this.db = db
    this.store = store
    this.buckets = buckets
    this.key = key
    this.peerId = key.peerId
    this.now = now
  }

  async snapshot (path: string, req: SnapshotRequest): Promise<SnapshotOutcome> {
    parseBucketName(req.bucket)
    const started = performance.now()
    // A version is dated when its snapshot starts: that is the moment it shows.
    const startedAt = this.now()
    const release = this.candidates.lease()
    try {
      return await this.snapshotLeased(path, req, started, startedAt)
    } finally {
      release()
    }
  }

  private async snapshotLeased (path: string, req: SnapshotRequest, started: number, startedAt: number): Promise<SnapshotOutcome> {
    const head = await this.buckets.head(req.bucket)
    // files are reused from the bucket's last version only if it was taken here (its
    // inodes were recorded) and they are the same inodes
    const parent = head?.record.kind === 'tree'
      ? { root: head.record.root, startedAt: head.record.createdAt, store: this.store, inodes: await this.inodes.reader(req.bucket, head.seq) }
      : undefined
    // the bucket's policy globs apply to every snapshot of it, scheduled or by hand
    const policy = await this.policies.get(req.bucket)
    const filter = pathFilter(policy?.include, policy?.exclude)
    const tables = this.inodes.begin()
    // what the snapshot stores is what the reverse index must add over the parent's
    const added = recordAddedBlocks(this.store, head === undefined ? FIRST_VERSION_BLOCKS_CAP : ADDED_BLOCKS_CAP)
    let result: SnapshotResult
    let version
    try {
      result = await snapshotVolume(path, { store: added.store, parent, filter, recordInodes: tables.write, ignoreInode: req.ignoreInode, signal: req.signal, onProgress: req.onProgress })
      req.signal?.throwIfAborted()
      await this.store.flush()
      version = await this.buckets.append(req.bucket, {
        root: result.root, kind: result.kind, size: result.size, message: req.message ?? '', createdAt: startedAt
      })
    } catch (err) {
      await tables.discard().catch(() => {})
      throw err
    }
    await tables.commit(req.bucket, version.seq)
    // the version's blocks become servable to peers allowed on this bucket
    // (a first version's blocks are all the ones it stored: its list, when kept, is complete)
    const stored = added.blocks()
    if (head === undefined && stored !== undefined) await this.sync.refs.addBlocks(req.bucket, version.cid, stored)
    else {
      await this.sync.refs.addVersion(req.bucket, version.cid, result.root, async cid => await this.store.get(cid),
        head === undefined ? {} : { parent: { record: head.cid, root: head.record.root }, added: stored })
    }
    return {
      bucket: req.bucket,
      seq: version.seq,
      cid: version.cid.toString(),
      root: result.root.toString(),
      kind: result.kind,
      size: result.size,
      files: result.files,
      dirs: result.dirs,
      chunks: result.stats.chunks,
      newChunks: result.stats.newChunks,
      newBytes: result.stats.newBytes,
      reusedBytes: result.reusedBytes,
      manifestNodes: result.manifestNodes,
      seconds: (performance.now() - started) / 1000
    }
  }

  async restore (req: RestoreRequest): Promise<RestoreResult & { bucket: string, seq: number }> {
    const version = await this.buckets.get(req.bucket, req.seq)
    // with a tier, a chunk missing here is fetched from the object store (and kept)
    const store = this.tier?.readThrough() ?? this.store
    const result = await restoreManifest(version.record.root, req.dest, { store, force: req.force, signal: req.signal, onProgress: req.onProgress })
    if (this.tier !== undefined) await this.store.flush()
    return { ...result, bucket: req.bucket, seq: version.seq }
  }

  async * diff (a: { bucket: string, seq?: number }, b: { bucket: string, seq?: number }, signal?: AbortSignal): AsyncGenerator<Change> {
    const [va, vb] = [await this.buckets.get(a.bucket, a.seq), await this.buckets.get(b.bucket, b.seq)]
    yield * diffManifests(va.record.root, vb.record.root, { store: this.store, signal })
  }

  async verify (options: { repair?: boolean, signal?: AbortSignal, onProgress?: (p: { blocks: number, bytes: number }) => void } = {}): Promise<VerifyReport> {
    const { repair, ...rest } = options
    return await verifyStore({ store: this.store, buckets: this.buckets, repair: repair === true ? this.sync.refs : undefined, ...rest })
  }

  /** Local gc, then (with a tier) the tier's sweep against the same live set. */
  async gc (options: { dryRun?: boolean, graceMs?: number, signal?: AbortSignal, onProgress?: (p: GcProgress) => void } = {}): Promise<GcReport> {
    const tier = this.tier
    return await collectGarbage({
      store: this.store, buckets: this.buckets, candidates: this.candidates, now: this.now, ...options,
      tierSweep: tier === undefined ? undefined : async (live, o) => await tier.sweep(live, o)
    })
  }

  /** Apply retention rules (or the bucket's policy) and remove the versions they do not keep. */
  async forget (bucket: string, rules: RetentionRules | undefined, options: { dryRun?: boolean, signal?: AbortSignal } = {}): Promise<ForgetOutcome> {
    parseBucketName(bucket)
    return await forgetVersions({ buckets: this.buckets, policies: this.policies, refs: this.sync.refs, store: this.store }, bucket, rules, { ...options, now: this.now() })
  }

  async stats (): Promise<StoreStats> {
    let blocks = 0
    let storedBytes = 0
    for await (const { location } of this.store.blocks()) { blocks++; storedBytes += location.length }
    const packs = await this.store.packIds()
    let packBytes = 0
    for (const id of packs) packBytes += await this.store.packSize(id)
    const list = await this.buckets.list()
    let versions = 0
    let logicalBytes = 0
    for await (const v of this.buckets.all()) {
      versions++
      logicalBytes += (await this.buckets.get(v.bucket, v.seq)).record.size
    }
    return {
      buckets: list.length, versions, blocks, storedBytes, packBytes, packs: packs.length, logicalBytes,
      dedupRatio: storedBytes === 0 ? 1 : logicalBytes / storedBytes
    }
  }

  async close (): Promise<void> {
    try {
      await this.store.close()
    } finally {
      await this.db.close()
    }
  }
}

export async function openEngine (init: EngineInit): Promise<Engine> {
  await ensureHome(init.home, init.create === true)
  const layout = homeLayout(init.home)
  const db = await openDb(layout.db)
  try {
    const index = db.sublevel<Uint8Array, Uint8Array>('blocks', { keyEncoding: 'view', valueEncoding: 'view' }) as unknown as BinaryIndex
    const candidates = await GcCandidates.open(db.sublevel<Uint8Array, string>('gc-candidates', { keyEncoding: 'view', valueEncoding: 'utf8' }) as unknown as CandidateIndex)
    const store = await openDiskStore({ dir: layout.packs, index, guard: candidates })
    const key = await loadOrCreateIdentity(init.home)
    const buckets = new Buckets({ index: db.sublevel<string, string>('buckets', { keyEncoding: 'utf8', valueEncoding: 'utf8' }), store, key })
    const sync = await openSyncState(db)
    const engine = new Engine(init.home, db, store, buckets, key, sync, init.now ?? Date.now, candidates)
    const tierConfig = await readTierConfig(init.home)
    if (tierConfig !== undefined) {
      engine.tier = new Tier({
        config: tierConfig,
        backend: await backendFor(tierConfig, init.tierHooks),
        catalog: db.sublevel<string, string>('tier', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as ConstructorParameters<typeof Tier>[0]['catalog'],
        store,
        buckets,
        addVersion: async (bucket, cid, root) => { await sync.refs.addVersion(bucket, cid, root, async c => await store.get(c)) },
        now: init.now ?? Date.now,
        packTargetSize: tierConfig.packSize
      })
    }
    return engine
  } catch (err) {
    await db.close()
    throw err
  }
}

export type { CID }
