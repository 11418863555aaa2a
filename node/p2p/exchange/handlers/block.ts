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
import type { WantedBlock } from '../fetch.ts'

export function handleBlock (session: PeerSession, cidBytes: Uint8Array, bytes: Uint8Array): void {
  if (accept(session, cidBytes, bytes)) session.fill()
}

/**
 * Every block of the run, then one refill of the window for all of them. A run whose
 * blocks were all asked for goes to the fetch whole (it may be stored as it lies); when
 * one was not, the peer is dropped and those before it are received one by one.
 */
export function handleRun (session: PeerSession, body: Uint8Array): void {
  const blocks: Array<[WantedBlock, Uint8Array]> = []
  let ok = true
  forEachRunEntry(body, (cidBytes, bytes) => {
    const entry = take(session, cidBytes)
    if (entry === undefined) return (ok = false)
    blocks.push([entry, bytes])
    return true
  })
  // the peer was dropped: what came before the unasked block is received one by one
  session.fetch.receiveRun(blocks, ok ? body : undefined, session)
  if (ok) session.fill()
}

/** False when the peer was dropped for it. */
function accept (session: PeerSession, cidBytes: Uint8Array, bytes: Uint8Array): boolean {
  const entry = take(session, cidBytes)
  if (entry === undefined) return false
  session.fetch.receive(entry, bytes, session)
  return true
}

/** The want in flight this block answers; undefined (and the peer dropped) when none. */
function take (session: PeerSession, cidBytes: Uint8Array): WantedBlock | undefined {
  const key = cidKey(cidBytes)
  const entry = session.inflight.get(key)
  if (entry === undefined) {
    session.drop(new RokError(P2PErrorCode.PEER_SENT_UNWANTED, `peer ${session.key} sent a block that was not asked of it`))
    return undefined
  }
  session.inflight.delete(key)
  return entry
}
