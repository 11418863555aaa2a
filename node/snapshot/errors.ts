/** Error codes of snapshot, restore and diff. */
export const SnapshotErrorCode = {
  /** The path to snapshot does not exist, or is neither a folder nor an image file/device. */
  NOT_A_VOLUME: 'ERR_NOT_A_VOLUME',
  /** A file could not be read (permissions, I/O error). */
  UNREADABLE: 'ERR_UNREADABLE',
  /** A file vanished or changed while it was being snapshotted. */
  CHANGED_DURING_SNAPSHOT: 'ERR_CHANGED_DURING_SNAPSHOT',
  /** A socket, FIFO or device node inside a folder tree. */
  UNSUPPORTED_FILE_TYPE: 'ERR_UNSUPPORTED_FILE_TYPE',
  /** Restore target exists and is not empty, and --force was not given. */
  DEST_NOT_EMPTY: 'ERR_DEST_NOT_EMPTY',
  /** Restored bytes did not add up to the manifest's size. */
  RESTORE_MISMATCH: 'ERR_RESTORE_MISMATCH'
} as const
