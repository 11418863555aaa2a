/**
 * The connection gater: which peers and addresses this node talks to at all. Rok nodes
 * speak TCP directly and never relay, and an operator can shut a peer out entirely
 * (`isPeerDenied`) before it costs an encrypted handshake's worth of CPU.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface GaterInit {
  /** True for peers this node must not connect to or accept. @default () => false */
  isPeerDenied?: (peer: PeerId) => boolean
}

const DIALABLE_NETWORKS = new Set(['ip4', 'ip6', 'dns', 'dns4', 'dns6'])

/** Only direct TCP addresses: no relays, no websockets, no unknown transports. */
export function isDirectTcp (addr: Multiaddr): boolean {
  const parts = addr.getComponents()
  return parts.length >= 2 && DIALABLE_NETWORKS.has(parts[0].name) && parts[1].name === 'tcp' &&
    parts.slice(2).every(p => p.name === 'p2p')
}

export function rokConnectionGater (init: GaterInit = {}): ConnectionGater {
  const denied = init.isPeerDenied ?? (() => false)
  return {
    denyDialPeer: (peer) => denied(peer),
    denyDialMultiaddr: (addr) => !isDirectTcp(addr),
    // checked again after the handshake, when the remote's identity is proven
    denyInboundEncryptedConnection: (peer) => denied(peer),
    denyOutboundEncryptedConnection: (peer) => denied(peer),
    denyInboundRelayReservation: () => true,
    denyOutboundRelayedConnection: () => true,
    denyInboundRelayedConnection: () => true
  }
}
