/**
 * HAVE (client side): fetchBlocks only sends block wants, and a server answers those with
 * BLOCK or DONT_HAVE, so a HAVE here means the peer is not following the protocol.
 */
import { RokError } from '../../../../protocol/errors.ts'
import { P2PErrorCode } from '../../errors.ts'
import type { CID } from '../../../../protocol/cid.ts'
import type { PeerSession } from '../session.ts'

export function handleHave (session: PeerSession, cids: CID[]): void {
  session.drop(new RokError(P2PErrorCode.PEER_PROTOCOL_VIOLATION, `peer ${session.key} answered a block want with HAVE for ${cids.length} CIDs`))
}
