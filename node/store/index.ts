/**
 * The chunk store: blocks (chunks and manifest nodes) addressed by CID, packed into
 * large files on local disk, indexed in level. See disk-store.ts for the crash-safety rule.
 */
export type { BlockStore, PutManyOptions, StoreOptions } from './types.ts'
export { DiskBlockStore, openDiskStore, type BinaryIndex, type DiskStoreInit, type PresenceGuard, type StoredBlock } from './disk-store.ts'
export { StoreErrorCode } from './errors.ts'
export { PACK_TARGET_SIZE, packFileName, type BlockLocation } from './pack-format.ts'
