/**
 * The grant protocol's two ends (wire format in protocol/grant-push.ts). The server
 * verifies a pushed grant with one deadline for the whole exchange and a bound on every
 * frame; the client presents one grant to one peer with a deadline.
 */
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { RokError, isRokError } from '../../protocol/errors.ts'
import {
  GRANT_PROTOCOL, MAX_GRANT_REQUEST_BODY, MAX_GRANT_RESPONSE_BODY, decodeGrantPush, decodeGrantPushResponse,
  encodeGrantPush, encodeGrantPushResponse
} from '../../protocol/grant-push.ts'
import { readOneFrame, type HeadHost } from '../sync/head.ts'
import { GRANT_MAX_INBOUND_STREAMS, GRANT_MAX_OUTBOUND_STREAMS, GRANT_SERVE_TIMEOUT_MS, PRESENT_TIMEOUT_MS } from './constants.ts'
import { RegistryLinkErrorCode } from './errors.ts'

export { GRANT_PROTOCOL } from '../../protocol/grant-push.ts'

export interface GrantServerInit {
  /** Verify and cache the grant `peer` pushed; returns its expiry or throws a RokError with the refusal code. */
  accept: (peer: string, bytes: Uint8Array) => Promise<number>
  /** @default GRANT_SERVE_TIMEOUT_MS (5 s) */
  timeout?: number
  onRefused?: (peer: string, err: Error) => void
}

export async function serveGrants (host: HeadHost, init: GrantServerInit): Promise<() => Promise<void>> {
  const timeout = init.timeout ?? GRANT_SERVE_TIMEOUT_MS
  await host.handle(GRANT_PROTOCOL, (stream, connection) => {
    const peer = connection.remotePeer.toString()
    const signal = AbortSignal.timeout(timeout)
    void (async () => {
      const bytes = decodeGrantPush(await readOneFrame(stream, MAX_GRANT_REQUEST_BODY, signal))
      let answer: Uint8Array
      try {
        answer = encodeGrantPushResponse({ type: 'accepted', expires: await init.accept(peer, bytes) })
      } catch (err) {
        init.onRefused?.(peer, err as Error)
        const code = isRokError(err) && /^[A-Z0-9_]{1,64}$/.test(err.code) ? err.code : RegistryLinkErrorCode.GRANT_REFUSED
        answer = encodeGrantPushResponse({ type: 'refused', code })
      }
      stream.send(answer)
      await stream.close({ signal })
    })().catch((err: Error) => {
      init.onRefused?.(peer, err)
      stream.abort(err)
    })
  }, { maxInboundStreams: GRANT_MAX_INBOUND_STREAMS, maxOutboundStreams: GRANT_MAX_OUTBOUND_STREAMS })
  return async () => { await host.unhandle(GRANT_PROTOCOL) }
}

/** Push `grant` to `peer`; resolves with the expiry it accepted, throws ERR_GRANT_REFUSED otherwise. */
export async function presentGrant (host: HeadHost, peer: PeerId | Multiaddr, grant: Uint8Array, options: { signal?: AbortSignal, timeout?: number } = {}): Promise<number> {
  const deadline = AbortSignal.timeout(options.timeout ?? PRESENT_TIMEOUT_MS)
  const signal = options.signal === undefined ? deadline : AbortSignal.any([options.signal, deadline])
  let stream
  let response
  try {
    stream = await host.dialProtocol(peer, GRANT_PROTOCOL, { signal })
    stream.send(encodeGrantPush(grant))
    response = decodeGrantPushResponse(await readOneFrame(stream, MAX_GRANT_RESPONSE_BODY, signal))
    await stream.close({ signal }).catch(() => {})
  } catch (cause) {
    stream?.abort(cause as Error)
    options.signal?.throwIfAborted()
    throw new RokError(RegistryLinkErrorCode.GRANT_REFUSED, `presenting a grant to ${peer.toString()} failed: ${(cause as Error).message}`, { cause, details: { peer: peer.toString() } })
  }
  if (response.type === 'refused') {
    throw new RokError(RegistryLinkErrorCode.GRANT_REFUSED, `${peer.toString()} refused the grant (${response.code})`, { details: { peer: peer.toString(), reason: response.code } })
  }
  return response.expires
}
