/**
 * BLOCK and RUN (client side): answers to wants in flight. A block nobody asked this peer
 * for is a protocol violation (it could be an attempt to fill memory); otherwise the fetch
 * verifies and stores it off the read path and the window gets a free slot at once.
 */
import { RokError } from '../../../../protocol/errors.ts'
import { forEachRunEntry } from '../../../../protocol/exchange.ts'
import { P2PErrorCode } from '../../errors.ts'
import { cidKey } from '../../../../protocol/cid.ts'
import type { PeerSession } from '../session.ts'

export function handleBlock (session: PeerSession, cidBytes: Uint8Array, bytes: Uint8Array): void {
  if (accept(session, cidBytes, bytes)) session.fill()
}

/** Every block of the run in turn, then one refill of the window for all of them. */
export function handleRun (session: PeerSession, body: Uint8Array): void {
  let ok = true
  forEachRunEntry(body, (cidBytes, bytes) => (ok = accept(session, cidBytes, bytes)))
  if (ok) session.fill()
}

/** False when the peer was dropped for it. */
function accept (session: PeerSession, cidBytes: Uint8Array, bytes: Uint8Array): boolean {
  const key = cidKey(cidBytes)
  const entry = session.inflight.get(key)
  if (entry === undefined) {
    session.drop(new RokError(P2PErrorCode.PEER_SENT_UNWANTED, `peer ${session.key} sent a block that was not asked of it`))
    return false
  }
  session.inflight.delete(key)
  session.fetch.receive(entry, bytes, session)
  return true
}
