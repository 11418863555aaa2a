/**
 * Typed client of a running node's API, used by the CLI when a daemon owns the home.
 * Implements the same NodeOperations as the in-process engine; long operations read the
 * NDJSON progress stream and report it through `onProgress`.
 */
import { RokError } from '../../protocol/errors.ts'
import { NDJSON } from '../../protocol/content-types.ts'
import type {
  AllowBody, AllowOutcome, PublishBody, PublishOutcome, SubscribeBody, SubscriptionStatus,
  SyncBody, SyncOperations, SyncReport, SyncStatus, UnsubscribeOutcome, BucketSummary, DiffOutcome, GcReport, NodeId, NodeOperations, NodeStatus,
  OperationOptions, PingOutcome, RestoreBody, RestoreOutcome, SnapshotBody, SnapshotOutcome, StoreStats,
  VerifyBody, VerifyReport, VersionInfo
} from '../../protocol/node-api.ts'
import { NodeApiErrorCode } from './errors.ts'
import type { ForgetBody, ForgetOutcome, PinBody, PolicyBody, PolicyInfo, RemovedOutcome } from '../../protocol/policy-api.ts'
import type { TierPullBody, TierPullReport, TierPushBody, TierPushReport, TierStatus, TierVerifyReport, TierVersion } from '../../protocol/tier-api.ts'
import { readApiToken, readDaemonInfo } from '../daemon-file.ts'

export interface NodeApiClientInit {
  url: string
  token: string
  /** Deadline for short requests. @default 30 s */
  timeoutMs?: number
}

export class NodeApiClient implements NodeOperations, SyncOperations {
  private readonly url: string
  private readonly token: string
  private readonly timeoutMs: number

  constructor (init: NodeApiClientInit) {
    this.url = init.url.replace(/\/$/, '')
    this.token = init.token
    this.timeoutMs = init.timeoutMs ?? 30_000
  }

  async health (signal?: AbortSignal): Promise<boolean> {
    try {
      const res = await fetch(`${this.url}/healthz`, { signal: signal ?? AbortSignal.timeout(2000) })
      return res.ok
    } catch {
      return false
    }
  }

  async id (): Promise<NodeId> { return await this.json('GET', '/v1/id') }
  async status (): Promise<NodeStatus> { return await this.json('GET', '/v1/status') }
  /** Dial a peer through the node and ping it (the node waits at most 10 s). */
  async ping (peer: string, signal?: AbortSignal): Promise<PingOutcome> { return await this.json('POST', '/v1/peers/ping', { peer }, signal) }
  async peerId (): Promise<string> { return (await this.id()).peerId }
  async buckets (): Promise<BucketSummary[]> { return await this.json('GET', '/v1/buckets') }
  async versions (bucket: string): Promise<VersionInfo[]> {
    const [group, name] = bucket.split('/')
    return await this.json('GET', `/v1/buckets/${encodeURIComponent(group)}/${encodeURIComponent(name ?? '')}/versions`)
  }

  async diff (from: string, to: string, options: { signal?: AbortSignal } = {}): Promise<DiffOutcome> {
    return await this.json('GET', `/v1/diff?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, undefined, options.signal)
  }

  async gc (body: Parameters<NodeOperations['gc']>[0], options?: OperationOptions): Promise<GcReport> { return await this.operation('/v1/gc', body, options) }

  async stats (): Promise<StoreStats> { return await this.json('GET', '/v1/stats') }

  async policies (): Promise<PolicyInfo[]> { return await this.json('GET', '/v1/policies') }
  async policy (bucket: string): Promise<PolicyInfo> { return await this.json('GET', `/v1/policies/${bucketPath(bucket)}`) }
  async setPolicy (body: PolicyBody): Promise<PolicyInfo> { return await this.json('PUT', `/v1/policies/${bucketPath(body.bucket)}`, body) }
  async removePolicy (bucket: string): Promise<RemovedOutcome> { return await this.json('DELETE', `/v1/policies/${bucketPath(bucket)}`) }
  async forget (body: ForgetBody, options: { signal?: AbortSignal } = {}): Promise<ForgetOutcome> { return await this.json('POST', '/v1/forget', body, options.signal, 0) }
  async tierStatus (): Promise<TierStatus> { return await this.json('GET', '/v1/tier') }
  async tierPush (body: TierPushBody, options?: OperationOptions): Promise<TierPushReport> { return await this.operation('/v1/tier/push', body, options) }
  async tierPull (body: TierPullBody, options?: OperationOptions): Promise<TierPullReport> { return await this.operation('/v1/tier/pull', body, options) }
  async tierList (bucket?: string, options: { signal?: AbortSignal } = {}): Promise<TierVersion[]> { return await this.json('GET', `/v1/tier/versions${bucket === undefined ? '' : `?bucket=${encodeURIComponent(bucket)}`}`, undefined, options.signal) }
  async tierVerify (options?: OperationOptions): Promise<TierVerifyReport> { return await this.operation('/v1/tier/verify', undefined, options) }
  async pin (body: PinBody): Promise<PinBody> { return await this.json('POST', '/v1/pins', body) }
  async snapshot (body: SnapshotBody, options?: OperationOptions): Promise<SnapshotOutcome> { return await this.operation('/v1/snapshots', body, options) }
  async restore (body: RestoreBody, options?: OperationOptions): Promise<RestoreOutcome> { return await this.operation('/v1/restores', body, options) }
  async verify (body: VerifyBody, options?: OperationOptions): Promise<VerifyReport> { return await this.operation('/v1/verify', body, options) }

  async publish (body: PublishBody, options?: OperationOptions): Promise<PublishOutcome> { return await this.operation('/v1/publish', body, options) }
  async subscribe (body: SubscribeBody): Promise<SubscriptionStatus> { return await this.json('POST', '/v1/subscriptions', body) }
  async unsubscribe (bucket: string): Promise<UnsubscribeOutcome> {
    const [group, name] = bucket.split('/')
    return await this.json('DELETE', `/v1/subscriptions/${encodeURIComponent(group)}/${encodeURIComponent(name ?? '')}`)
  }

  async sync (body: SyncBody, options?: OperationOptions): Promise<SyncReport> { return await this.operation('/v1/sync', body, options) }
  async allow (body: AllowBody): Promise<AllowOutcome> { return await this.json('POST', '/v1/allow', body) }
  async deny (body: AllowBody): Promise<AllowOutcome> { return await this.json('POST', '/v1/deny', body) }
  async syncStatus (): Promise<SyncStatus> { return await this.json('GET', '/v1/sync/status') }

  private async request (method: string, path: string, body: unknown, signal: AbortSignal | undefined, timeoutMs: number): Promise<Response> {
    const signals = [signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s): s is AbortSignal => s !== undefined)
    try {
      return await fetch(`${this.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined
      })
    } catch (cause) {
      if (signal?.aborted === true) throw signal.reason
      throw new RokError(NodeApiErrorCode.NODE_UNAVAILABLE, `the node at ${this.url} did not answer: is 'rok node start' still running?`, { cause })
    }
  }

  private async json<T> (method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<T> {
    const res = await this.request(method, path, body, signal, timeoutMs)
    const text = await res.text()
    let parsed: unknown
    try { parsed = JSON.parse(text) } catch { parsed = undefined }
    if (!res.ok) throw toError(res.status, parsed)
    return parsed as T
  }

  private async operation<T> (path: string, body: unknown, options: OperationOptions = {}): Promise<T> {
    const res = await this.request('POST', path, body ?? {}, options.signal, 0)
    if (!res.ok || !(res.headers.get('content-type') ?? '').startsWith(NDJSON)) {
      let parsed: unknown
      try { parsed = JSON.parse(await res.text()) } catch {}
      throw toError(res.status, parsed)
    }
    const decoder = new TextDecoder()
    let buffered = ''
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(piece, { stream: true })
      let nl
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        if (line === '') continue
        const msg = JSON.parse(line) as { type: string, result?: T, error?: { code: string, message: string, details?: Record<string, unknown> }, bytes?: number, total?: number }
        if (msg.type === 'progress') options.onProgress?.(msg as unknown as { bytes: number })
        else if (msg.type === 'result') return msg.result as T
        else if (msg.type === 'error') throw new RokError(msg.error!.code, msg.error!.message, { details: msg.error!.details })
      }
    }
    throw new RokError(NodeApiErrorCode.NODE_UNAVAILABLE, `the node at ${this.url} ended the operation without a result; check its log`)
  }
}

function toError (status: number, body: unknown): RokError {
  const b = body as { code?: string, message?: string, details?: Record<string, unknown> } | undefined
  if (b?.code !== undefined && b.message !== undefined) return new RokError(b.code, b.message, { details: b.details })
  return new RokError(NodeApiErrorCode.NODE_UNAVAILABLE, `the node answered HTTP ${status} without an error body`)
}

/** The client of the daemon that owns `home`, or undefined when none is running there. */
export async function connectToNode (home: string): Promise<NodeApiClient | undefined> {
  const info = await readDaemonInfo(home)
  const token = await readApiToken(home)
  if (info === undefined || token === undefined) return undefined
  const client = new NodeApiClient({ url: info.api, token })
  return (await client.health()) ? client : undefined
}

/** `group/name` as two escaped path segments. */
function bucketPath (bucket: string): string {
  const [group, name] = bucket.split('/')
  return `${encodeURIComponent(group)}/${encodeURIComponent(name ?? '')}`
}
