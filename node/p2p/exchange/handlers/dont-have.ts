/** DONT_HAVE (client side): the peer will not serve these; the fetch offers them to other peers. */
import { RokError } from '../../../../protocol/errors.ts'
import { P2PErrorCode } from '../../errors.ts'
import { cidKey, type CID } from '../../../../protocol/cid.ts'
import type { PeerSession } from '../session.ts'

export function handleDontHave (session: PeerSession, cids: CID[]): void {
  for (const cid of cids) {
    const key = cidKey(cid.bytes)
    const entry = session.inflight.get(key)
    if (entry === undefined) {
      session.drop(new RokError(P2PErrorCode.PEER_SENT_UNWANTED, `peer ${session.key} answered ${cid.toString()}, which was not asked of it`, { details: { cid: cid.toString() } }))
      return
    }
    session.inflight.delete(key)
    session.fetch.requeue(entry, session)
  }
  session.fill()
}
