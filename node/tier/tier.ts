/**
 * A node's object-storage tier: the configured backend, the catalog of what it holds,
 * and the operations on it (push, pull, list, status, verify, read-through, sweep).
 * Created by the engine when the home has a `tier.json`.
 */
import { CID } from '../../protocol/cid.ts'
import { RokError } from '../../protocol/errors.ts'
import type { TierStatus } from '../../protocol/tier-api.ts'
import type { Buckets } from '../buckets/index.ts'
import type { DiskBlockStore } from '../store/index.ts'
import type { BlockStore, StoreOptions } from '../store/types.ts'
import type { KeyValue } from '../sync/kv.ts'
import type { ObjectBackend } from './backend.ts'
import { Catalog } from './catalog.ts'
import { backendFor, describeTier, parseTierSettings, writeTierConfig, type BackendHooks, type TierConfig, type TierSettingsInput } from './config.ts'
import { TIER_FORMAT } from './constants.ts'
import { TierErrorCode } from './errors.ts'
import { fetchBlocks, readThroughStore } from './fetch.ts'
import { MARKER_KEY } from './keys.ts'
import { listRemoteVersions, pullVersion, refreshCatalog, type PullOptions, type PullReport, type RemoteVersion } from './pull.ts'
import { pushVersions, type PushOptions, type PushReport } from './push.ts'
import { sweepTier, type SweepOptions, type SweepReport } from './sweep.ts'
import { verifyTier, type TierVerifyReport } from './verify.ts'

export interface TierInit {
  config: TierConfig
  backend: ObjectBackend
  catalog: KeyValue
  store: DiskBlockStore
  buckets: Pick<Buckets, 'all' | 'get' | 'record'>
  /** Record a version's references (the sync reverse index) after a pull. */
  addVersion: (bucket: string, cid: CID, root: CID) => Promise<void>
  now: () => number
  /** Pack size for pushes and rewrites. @default PACK_TARGET_SIZE */
  packTargetSize?: number
}

export class Tier {
  readonly config: TierConfig
  readonly backend: ObjectBackend
  readonly catalog: Catalog
  private readonly init: TierInit
  /** Pushes run one at a time; a second caller waits for the first. */
  private pushing: Promise<unknown> = Promise.resolve()

  constructor (init: TierInit) {
    this.init = init
    this.config = init.config
    this.backend = init.backend
    this.catalog = new Catalog(init.catalog)
  }

  get description (): string { return describeTier(this.config) }

  /** Upload every local version the tier lacks (one bucket's with `bucket`). */
  async push (options: PushOptions = {}): Promise<PushReport> {
    const run = this.pushing.then(async () => await pushVersions({
      backend: this.backend, catalog: this.catalog, store: this.init.store, buckets: this.init.buckets, now: this.init.now, packTargetSize: this.init.packTargetSize
    }, options))
    this.pushing = run.catch(() => {})
    return await run
  }

  /** Blocks from the tier, verified (see fetch.ts). */
  async fetch (cids: CID[], options: StoreOptions = {}): Promise<Map<string, Uint8Array>> {
    return await fetchBlocks({ backend: this.backend, catalog: this.catalog }, cids, options)
  }

  /**
   * What a sync could get from no peer: the blocks of `cids` the tier holds are fetched
   * (verified) and stored locally. Returns those it stored; the others are still missing.
   */
  async fillMissing (cids: CID[], options: StoreOptions = {}): Promise<{ stored: CID[], bytes: number }> {
    const locations = await this.catalog.locateMany(cids.map(c => c.toString()))
    const held = cids.filter((_, i) => locations[i] !== undefined)
    if (held.length === 0) return { stored: [], bytes: 0 }
    const fetched = await this.fetch(held, options)
    await this.init.store.putMany([...fetched].map(([c, b]): [CID, Uint8Array] => [CID.parse(c), b]))
    let bytes = 0
    for (const b of fetched.values()) bytes += b.length
    return { stored: held, bytes }
  }

  /** The local store, fetching from the tier on a miss. */
  readThrough (): BlockStore {
    return readThroughStore(this.init.store, async (cids, o) => await this.fetch(cids, o), this.catalog)
  }

  async pull (bucket: string, seq: number | undefined, options: PullOptions = {}): Promise<PullReport> {
    const store = this.readThrough()
    return await pullVersion({
      backend: this.backend,
      catalog: this.catalog,
      store: { get: store.get, has: store.has, getMany: store.getMany!, flush: store.flush, hasLocal: async cids => await this.init.store.hasMany(cids) },
      buckets: this.init.buckets,
      addVersion: this.init.addVersion,
      now: this.init.now
    }, bucket, seq, options)
  }

  /** Versions in the object store (works on a node that has never pushed). */
  async list (bucket?: string, signal?: AbortSignal): Promise<RemoteVersion[]> {
    return await listRemoteVersions(this.backend, bucket, signal)
  }

  /** Learn packs other runs or nodes wrote (one LIST, a trailer GET per new pack). */
  async refresh (signal?: AbortSignal): Promise<number> {
    return await refreshCatalog({ backend: this.backend, catalog: this.catalog, now: this.init.now }, signal)
  }

  /** Whether some local version is not in the tier yet (local reads only). */
  async hasUnpushed (): Promise<boolean> {
    for await (const v of this.init.buckets.all()) if (!(await this.catalog.versionPushed(v.bucket, v.seq))) return true
    return false
  }

  async status (): Promise<TierStatus> {
    let packs = 0
    let packBytes = 0
    for await (const [, info] of this.catalog.packs()) { packs++; packBytes += info.size }
    let blocks = 0
    for await (const _ of this.catalog.blocks()) blocks++
    let pushedVersions = 0
    for await (const _ of this.catalog.pushedVersions()) pushedVersions++
    const unpushedVersions: string[] = []
    for await (const v of this.init.buckets.all()) if (!(await this.catalog.versionPushed(v.bucket, v.seq))) unpushedVersions.push(`${v.bucket}@${v.seq}`)
    let candidates = 0
    for await (const _ of this.catalog.candidates()) candidates++
    // candidates keep their pack record until deleted; count only packs in use
    return { tier: this.description, packs: packs - candidates, packBytes, blocks, pushedVersions, unpushedVersions, candidates, interruptedUploads: (await this.catalog.uploads()).length }
  }

  async verify (options: { signal?: AbortSignal, onProgress?: (p: { packs: number, bytes: number }) => void } = {}): Promise<TierVerifyReport> {
    return await verifyTier({ backend: this.backend, catalog: this.catalog, store: this.readThrough() }, options)
  }

  /** Tier garbage collection; see sweepTier for the contract. */
  async sweep (live: Set<string>, options: SweepOptions = {}): Promise<SweepReport> {
    const store = this.readThrough()
    return await sweepTier({ backend: this.backend, catalog: this.catalog, store: { getMany: store.getMany! }, now: this.init.now, packTargetSize: this.init.packTargetSize }, live, options)
  }
}

/**
 * Validate settings, check the object store answers with these credentials and this
 * bucket, write (or check) the tier's format marker, then save the settings in the home.
 * Nothing is saved when any check fails.
 */
export async function configureTier (home: string, input: TierSettingsInput, options: { signal?: AbortSignal, hooks?: BackendHooks } = {}): Promise<TierConfig> {
  const config = parseTierSettings(input)
  const backend = await backendFor(config, options.hooks)
  await backend.check({ signal: options.signal })
  const marker = await backend.head(MARKER_KEY, { signal: options.signal })
  if (marker === undefined) {
    await backend.put(MARKER_KEY, new TextEncoder().encode(JSON.stringify({ format: TIER_FORMAT }) + '\n'), { signal: options.signal })
  } else {
    let format: unknown
    try { format = (JSON.parse(new TextDecoder().decode(await backend.get(MARKER_KEY, { signal: options.signal }))) as { format?: unknown }).format } catch {}
    if (format !== TIER_FORMAT) {
      throw new RokError(TierErrorCode.INVALID_CONFIG, `${backend.location} holds ${MARKER_KEY} of another format (${String(format)}); this rok writes format ${TIER_FORMAT}: choose another --prefix`)
    }
  }
  await writeTierConfig(home, config)
  return config
}
