/** Error codes of the node's registry link (registration, grants, the outbox). */
export const RegistryLinkErrorCode = {
  /** The registry's key differs from the one pinned in the home (registry-key.json). */
  REGISTRY_KEY_CHANGED: 'ERR_REGISTRY_KEY_CHANGED',
  /** No registry key is pinned yet (the registry was never reached), so grants cannot be checked. */
  NO_REGISTRY_KEY: 'ERR_NO_REGISTRY_KEY',
  /** A presented grant is for another peer, or does not carry the read right. */
  GRANT_NOT_FOR_PEER: 'ERR_GRANT_NOT_FOR_PEER',
  /** A peer refused the grant this node presented, or presenting it failed. */
  GRANT_REFUSED: 'ERR_GRANT_REFUSED',
  /** The registry lists no reachable provider holding the bucket's publisher address. */
  NO_PROVIDER: 'ERR_NO_PROVIDER',
  /** The outbox of version references waiting for the registry is full. */
  OUTBOX_FULL: 'ERR_OUTBOX_FULL'
} as const

/** HTTP status of the link's codes, and of registry codes that reach the node API. */
export const REGISTRY_LINK_ERROR_STATUS: Record<string, number> = {
  [RegistryLinkErrorCode.REGISTRY_KEY_CHANGED]: 409,
  [RegistryLinkErrorCode.NO_REGISTRY_KEY]: 503,
  [RegistryLinkErrorCode.NO_PROVIDER]: 502,
  [RegistryLinkErrorCode.OUTBOX_FULL]: 507,
  ERR_REGISTRY_UNAVAILABLE: 503,
  ERR_FORBIDDEN: 403,
  ERR_NODE_NOT_REGISTERED: 403,
  ERR_VERSION_CONFLICT: 409
}
