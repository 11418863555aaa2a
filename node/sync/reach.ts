/**
 * Telling a peer that could not be reached from one that refused or lacked blocks. The
 * exchange drops a peer it could not open a stream to like any other failed peer; when a
 * fetch dropped a peer before it sent anything and this node holds no connection to it,
 * one dial says whether it can be reached at all. If not, its drop is reported as
 * ERR_PEER_UNREACHABLE with the dial's reason (refused, no route), so the sync says the
 * peer is down instead of listing every block as missing.
 */
import type { PeerId } from '@libp2p/interface'
import { peerKey } from '../p2p/exchange/fetch.ts'
import { REACH_TIMEOUT_MS } from './constants.ts'
import { SyncErrorCode } from './errors.ts'
import type { FetchFn, FetchPeer } from './version-sync.ts'

export interface ReachHost {
  getConnections: () => Array<{ remotePeer: PeerId }>
  dial: (peer: FetchPeer, options?: { signal?: AbortSignal }) => Promise<unknown>
}

/** `fetch`, with peers it dropped unheard and that cannot be dialled reported as unreachable. */
export function explainUnreachable (host: ReachHost, fetch: FetchFn, timeoutMs = REACH_TIMEOUT_MS): FetchFn {
  return async (cids, options) => {
    const report = await fetch(cids, options)
    if (report.missing.length === 0) return report
    const connected = new Set(host.getConnections().map(c => c.remotePeer.toString()))
    await Promise.all(report.peers.map(async stats => {
      if (stats.dropped === undefined || stats.blocks > 0 || stats.dropped.code === SyncErrorCode.PEER_UNREACHABLE || connected.has(stats.peer)) return
      const peer = options.peers.find(p => peerKey(p) === stats.peer)
      if (peer === undefined) return
      const deadline = AbortSignal.timeout(timeoutMs)
      try {
        await host.dial(peer, { signal: options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline]) })
      } catch (err) {
        options.signal?.throwIfAborted()
        stats.dropped = { code: SyncErrorCode.PEER_UNREACHABLE, message: `could not reach ${stats.peer}: ${(err as Error).message}` }
      }
    }))
    return report
  }
}
