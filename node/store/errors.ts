/** Error codes of the chunk store. */
export const StoreErrorCode = {
  /** A block is not in the store. */
  BLOCK_NOT_FOUND: 'ERR_BLOCK_NOT_FOUND',
  /** The disk (or quota) is full; nothing half-written was indexed. */
  DISK_FULL: 'ERR_DISK_FULL',
  /** A pack file is missing or truncated under an index entry. */
  PACK_DAMAGED: 'ERR_PACK_DAMAGED',
  /** The store was used after close. */
  STORE_CLOSED: 'ERR_STORE_CLOSED'
} as const
