/** Error codes of the p2p layer (host, chunk exchange). Callers branch on `code`. */
export const P2PErrorCode = {
  /** fetchBlocks was called without any peer to ask. */
  NO_PEERS: 'ERR_NO_PEERS',
  /** A peer sent bytes that do not hash to the CID they were sent under. */
  PEER_SENT_BAD_BLOCK: 'ERR_PEER_SENT_BAD_BLOCK',
  /** A peer sent a block or answer for a CID that was not asked of it. */
  PEER_SENT_UNWANTED: 'ERR_PEER_SENT_UNWANTED',
  /** A peer broke the exchange protocol (wrong message for its role, too many wants). */
  PEER_PROTOCOL_VIOLATION: 'ERR_PEER_PROTOCOL_VIOLATION',
  /** The peer closed or lost the stream or connection with wants still unanswered. */
  PEER_GONE: 'ERR_PEER_GONE',
  /** An inbound stream or a want was not answered within its deadline. */
  TIMEOUT: 'ERR_P2P_TIMEOUT',
  /** A private key file is unreadable or not an Ed25519 libp2p key. */
  INVALID_PRIVATE_KEY: 'ERR_INVALID_PRIVATE_KEY',
  /** A multiaddr given for listening or bootstrap is malformed. */
  INVALID_MULTIADDR: 'ERR_INVALID_MULTIADDR',
  /** An upload rate cap that is not a positive number of bytes per second. */
  INVALID_RATE: 'ERR_INVALID_RATE',
  /**
   * The exchange's data channel to a peer could not be opened (the peer does not offer
   * one, its port is unreachable, or the ticket was refused); fetches from that peer use
   * libp2p streams instead.
   */
  DATA_CHANNEL_UNAVAILABLE: 'ERR_DATA_CHANNEL_UNAVAILABLE',
  /** A data channel server showed a certificate other than the one its peer offered over libp2p. */
  DATA_CHANNEL_UNTRUSTED: 'ERR_DATA_CHANNEL_UNTRUSTED'
} as const
