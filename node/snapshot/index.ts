/**
 * Snapshot, restore and diff of volumes — folder trees and raw block images — over a
 * block store. Knows nothing of buckets, the network or object storage.
 */
export { snapshotVolume, type SnapshotOptions, type SnapshotProgress, type SnapshotResult } from './snapshot.ts'
export { restoreManifest, type RestoreOptions, type RestoreProgress, type RestoreResult } from './restore.ts'
export { diffManifests, summarize, type Change, type DiffSummary } from './diff.ts'
export { walkList, listNodes, ListTreeBuilder, type BlockGetter } from './list-tree.ts'
export { SnapshotErrorCode } from './errors.ts'
export { changedBlocks, manifestBlocks } from './walk.ts'
export { recordAddedBlocks, ADDED_BLOCKS_CAP, FIRST_VERSION_BLOCKS_CAP, type AddedBlocks } from './added-blocks.ts'
