/**
 * The Rok node daemon: owns a home (engine), runs the libp2p host and serves the local
 * API. Started by `rok node start`; `close()` stops all three in reverse order and
 * removes the discovery file so the CLI stops sending it work.
 */
import type { FastifyServerOptions } from 'fastify'
import { Registry } from 'prom-client'
import { openEngine, type Engine } from './engine.ts'
import { buildNodeApi } from './api/app.ts'
import { startIdleCollector, type IdleCollector } from './idle-collect.ts'
import { ensureApiToken, removeDaemonInfo, writeDaemonInfo } from './daemon-file.ts'
import { localOperations } from './operations.ts'
import { startAutoPush, type AutoPush } from './tier/index.ts'
import { createRokHost, type RokHost } from './p2p/host.ts'
import { SyncService, syncOperations } from './sync/index.ts'
import { RegistryLink } from './registry/index.ts'
import { listenGracefully, parseListen } from '../server/index.ts'
import { PolicyScheduler } from './policy/scheduler.ts'
import { scheduledRun } from './policy/run.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { privateKeyFromProtobuf } from '@libp2p/crypto/keys'
import { RokError } from '../protocol/errors.ts'
import type { PingOutcome } from '../protocol/node-api.ts'

export interface NodeInit {
  home: string
  /** libp2p listen multiaddrs. @default ['/ip4/127.0.0.1/tcp/0'] */
  listen?: string[]
  /** API address HOST:PORT (port 0 picks one). @default '127.0.0.1:0' */
  api?: string
  bootstrap?: string[]
  logger?: FastifyServerOptions['logger']
  /** Bytes per second a sync may receive. @default unlimited */
  maxDownloadRate?: number
  /** Bytes per second the node serves to all peers together. @default unlimited */
  maxUploadRate?: number
  /**
   * The exchange's data channel (blocks over a direct TLS socket, libp2p streams as the
   * fallback): `false` turns it off, `port` fixes its TCP port. @default { port: 0 } (on, any port)
   */
  dataChannel?: false | { port?: number }
  /** How often subscriptions ask peers for new versions when no announcement came. @default 30 s */
  pollInterval?: number
  /**
   * The registry this node registers with, records published versions in and asks for
   * grants; `token` is the user's (`rok login`). Without it, buckets are served by allow
   * list only.
   */
  registry?: { url: string, token: string, /** Longest retry delay. @default RETRY_MAX_MS (30 s) */ retryMaxMs?: number }
}

export interface RunningNode {
  engine: Engine
  host: RokHost
  sync: SyncService
  registry?: RegistryLink
  apiUrl: string
  peerId: string
  addrs: () => string[]
  close: () => Promise<void>
}

export async function startNode (init: NodeInit): Promise<RunningNode> {
  const engine = await openEngine({ home: init.home })
  const started = Date.now()
  let host: RokHost | undefined
  let sync: SyncService | undefined
  let registry: RegistryLink | undefined
  let autoPush: AutoPush | undefined
  let scheduler: PolicyScheduler | undefined
  let idle: IdleCollector | undefined
  try {
    // the exchange asks the sync service, created just after the host, who may fetch what
    let authorize: SyncService['authorize'] = async () => false
    host = await createRokHost({
      privateKey: privateKeyFromProtobuf(engine.key.toProtobuf()),
      listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: init.bootstrap,
      dataChannel: init.dataChannel,
      exchange: { store: engine.store, authorize: async (peer, cid) => await authorize(peer, cid), maxUploadRate: init.maxUploadRate }
    })
    const h = host
    let app: Awaited<ReturnType<typeof buildNodeApi>> | undefined
    const log = (message: string): void => { if (app !== undefined) app.log.warn(message); else process.stderr.write(`rok node: ${message}\n`) }
    if (init.registry !== undefined) {
      registry = await RegistryLink.open({
        url: init.registry.url,
        token: init.registry.token,
        retryMaxMs: init.registry.retryMaxMs,
        home: init.home,
        key: engine.key,
        peerId: engine.peerId,
        addrs: () => h.getMultiaddrs().map(a => a.toString()),
        host: h,
        outbox: engine.sync.registryOutbox,
        grants: engine.sync.registryGrants,
        held: async () => (await engine.buckets.list()).map(b => ({ bucket: b.bucket, seq: b.head })),
        log
      })
      await registry.start()
    }
    const link = registry
    sync = new SyncService({
      engine,
      host: h,
      registry: link,
      maxDownloadRate: init.maxDownloadRate,
      pollInterval: init.pollInterval,
      afterSnapshot: () => { idle?.afterWork() },
      log
    })
    const service = sync
    authorize = service.authorize
    await service.start()
    // bucket schedules (rok policy set --schedule) run here, next to the sync service
    scheduler = new PolicyScheduler({
      policies: engine.policies,
      log,
      run: scheduledRun({
        snapshot: async (path, bucket, message, signal) => await engine.snapshot(path, { bucket, message, signal }),
        publish: async (path, bucket, message, signal) => await service.publish({ path, bucket, message }, { signal }),
        share: link === undefined
          ? undefined
          : async (bucket, groups, signal) => { for (const g of groups) await link.client.addRule(bucket, { subject: `group:${g}`, right: 'read', effect: 'allow' }, { signal }) },
        log,
        forget: async (bucket, signal) => await engine.forget(bucket, undefined, { signal })
      })
    })
    const policies = scheduler
    const addrs = (): string[] => h.getMultiaddrs().map(a => a.toString())
    // the launcher starts `rok node` with --expose-gc for this (bin/rok.js)
    const gc = (globalThis as { gc?: (options: Record<string, string>) => void }).gc
    // 'last-resort' also compacts and hands pages back: a plain gc() left a 1 GiB publish's daemon at 194 MB, this at 155 MB
    idle = gc === undefined ? undefined : startIdleCollector({ collect: () => { gc({ type: 'major', execution: 'sync', flavor: 'last-resort' }) } })
    const metrics = new Registry()
    // what a snapshot or restore leaves is collected as it ends (node/idle-collect.ts); a publish's, before it is announced (afterSnapshot above)
    const thenCollect = <A extends unknown[], R>(work: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      try { return await work(...args) } finally { idle?.afterWork() }
    }
    const ops = localOperations(engine, { onPolicyChange: () => { policies.poke() } })
    const syncOps = syncOperations(service)
    app = await buildNodeApi({
      ops: { ...ops, snapshot: thenCollect(ops.snapshot), restore: thenCollect(ops.restore) },
      sync: syncOps,
      token: await ensureApiToken(init.home),
      metrics,
      gauges: [
        ['connections', 'open libp2p connections', () => h.getConnections().length],
        ['exchange_data_channel_sockets_accepted', 'data channel sockets this node accepted with a valid ticket', () => h.services.exchange.serveStats().dataChannel?.accepted ?? 0],
        ['exchange_data_channel_sockets_refused', 'data channel sockets refused (bad, used or expired ticket)', () => h.services.exchange.serveStats().dataChannel?.refused ?? 0],
        ['exchange_data_channel_bytes_served', 'block bytes this node served over its data channel', () => h.services.exchange.serveStats().dataChannel?.bytes ?? 0],
        ['exchange_run_blocks_served', 'blocks this node served in RUN frames, several stored together in one frame as they lie on disk', () => h.services.exchange.serveStats().runBlocks],
        ['exchange_stream_bytes_served', 'block bytes this node served in all (data channel and libp2p streams)', () => h.services.exchange.serveStats().bytes],
        ['idle_collections', 'full garbage collections run once the node went quiet after work', () => idle?.collections ?? 0]
      ],
      logger: init.logger,
      info: {
        id: () => ({ peerId: engine.peerId, addrs: addrs(), api: apiUrl }),
        status: () => ({
          peerId: engine.peerId,
          addrs: addrs(),
          uptimeSeconds: (Date.now() - started) / 1000,
          connections: h.getConnections().length,
          peers: [...new Set(h.getConnections().map(c => c.remotePeer.toString()))]
        }),
        ping: async (peer, signal) => await pingPeer(h, peer, signal)
      }
    })
    const { host: apiHost, port } = parseListen(init.api ?? '127.0.0.1:0')
    const listening = await listenGracefully(app, apiHost, port)
    const apiUrl = listening.url
    // with a tier configured, new versions (snapshots, publishes, syncs) are pushed to it
    autoPush = engine.tier === undefined ? undefined : startAutoPush({ tier: engine.tier, log })
    const pusher = autoPush
    await writeDaemonInfo(init.home, { pid: process.pid, api: apiUrl, peerId: engine.peerId, addrs: addrs(), startedAt: new Date(started).toISOString() })
    // after the API is up: a missed firing runs once now, its snapshot visible through the API
    policies.start()
    let closing: Promise<void> | undefined
    return {
      engine,
      host: h,
      sync: service,
      registry: link,
      apiUrl,
      peerId: engine.peerId,
      addrs,
      close: async () => {
        closing ??= (async () => {
          await removeDaemonInfo(init.home)
          idle?.stop()
          await listening.close()
          await policies.stop()
          await service.stop()
          await link?.stop()
          await h.stop()
          await pusher?.stop()
          await engine.close()
        })()
        await closing
      }
    }
  } catch (err) {
    idle?.stop()
    try { await autoPush?.stop() } catch {}
    try { await scheduler?.stop() } catch {}
    try { await sync?.stop() } catch {}
    try { await registry?.stop() } catch {}
    try { await host?.stop() } catch {}
    await engine.close()
    throw err
  }
}

/**
 * Dial `peer` (a multiaddr ending in /p2p/ID, or a peer ID whose addresses the node knows)
 * and ping it. A bad address is the caller's mistake (ERR_INVALID_PEER); a peer that cannot
 * be reached is an answer, not an error, so `rok doctor` can report every peer.
 */
async function pingPeer (host: RokHost, peer: string, signal: AbortSignal): Promise<PingOutcome> {
  let target
  let id: string
  try {
    if (peer.startsWith('/')) {
      target = multiaddr(peer)
      id = target.getComponents().findLast(c => c.name === 'p2p')?.value ?? ''
      if (id === '') throw new Error('no /p2p/<peer id> at its end')
    } else {
      target = peerIdFromString(peer)
      id = peer
    }
  } catch (cause) {
    throw new RokError('ERR_INVALID_PEER', `'${peer}' is not a peer ID or a multiaddr ending in /p2p/<peer id>`, { cause })
  }
  if (id === host.peerId.toString()) throw new RokError('ERR_INVALID_PEER', `${peer} is this node itself`)
  try {
    const rttMs = await host.services.ping.ping(target, { signal })
    return { peer: id, reachable: true, rttMs }
  } catch (err) {
    const message = signal.aborted ? 'no answer within 10 s' : (err as Error).message
    return { peer: id, reachable: false, error: { code: 'ERR_PEER_UNREACHABLE', message } }
  }
}
