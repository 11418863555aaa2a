/**
 * A run's data folder and its snapshots. A step saves its values into its own folder
 * under `pending/`; when it succeeds, that folder is moved (renamed: the same files, not
 * copied) into `data/`, where later steps read it, and `data/` is snapshotted. Snapshots
 * run in the background while later steps run, one at a time, and a step's folder moves
 * into `data/` only once the snapshot before it has finished reading — so every version
 * holds exactly the steps that had finished when it was taken, never a half-saved one.
 *
 * The files a snapshot covers never change again (each step writes new files), so the
 * engine reuses them from the previous version without reading them: each snapshot
 * reads only the values saved since the one before.
 */
import { rename } from 'node:fs/promises'
import { join } from 'node:path'
import type { SnapshotRef } from './records.ts'
import type { StepSnapshots } from './snapshots.ts'

export interface RunData {
  /** The version holding `data/` as it is now; undefined without snapshots. */
  current: () => Promise<SnapshotRef | undefined>
  /**
   * Move STEP's values into `data/` (once the snapshot in progress is done) and snapshot.
   * `published` settles when later steps may read them; `after` with the snapshot.
   */
  publish: (step: string) => { published: Promise<void>, after: Promise<SnapshotRef | undefined> }
  /** Settles when every publish and snapshot so far has. */
  settled: () => Promise<void>
}

export interface RunDataOptions {
  data: string
  pending: string
  snapshots?: StepSnapshots
  /** Names the versions: `run ID: after step NAME`. */
  runId: string
  signal?: AbortSignal
}

export function runData (o: RunDataOptions): RunData {
  const take = async (what: string): Promise<SnapshotRef | undefined> =>
    await o.snapshots?.take(o.data, `run ${o.runId}: ${what}`, o.signal)
  // The last snapshot started (or the folder's first one): every publish waits for it.
  let last: Promise<SnapshotRef | undefined> = take('before its first step')
  last.catch(() => {})
  return {
    current: async () => await last,
    publish (step) {
      const previous = last
      const published = (async () => {
        await previous.catch(() => {})
        try {
          await rename(join(o.pending, step), join(o.data, step))
        } catch (err) {
          // A step that saved nothing has no folder.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
        }
      })()
      const after = published.then(async () => await take(`after step ${step}`))
      last = after
      last.catch(() => {})
      return { published, after }
    },
    settled: async () => { await last.catch(() => {}) }
  }
}
