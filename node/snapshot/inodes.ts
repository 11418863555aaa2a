/**
 * The inodes behind a bucket's last folder snapshot, kept only in this node's home (they
 * mean nothing on another machine, so they are not in the manifest). A file is reused
 * from the parent snapshot without being read only when it is the same inode, as restic
 * checks: a different folder snapshotted into the bucket, or a folder moved into place,
 * has files with the same names, sizes and mtimes but other inodes, and must be read.
 *
 * Each snapshot attempt writes its tables under its own id; the bucket's pointer moves to
 * them only once the version is recorded, so a snapshot that fails half-way never lends
 * its inodes to the next one.
 */
import { randomBytes } from 'node:crypto'

/** The slice of a level sublevel (utf8 keys and values) the table needs. */
export interface InodeIndex {
  get: (key: string) => Promise<string | undefined>
  put: (key: string, value: string) => Promise<void>
  batch: (ops: Array<{ type: 'del', key: string }>) => Promise<void>
  keys: (options: { gt: string, lt: string }) => AsyncIterable<string>
}

/** name → "dev:ino" of the regular files of one folder. */
export type FolderInodes = Map<string, string>

interface Pointer { seq: number, attempt: string }

const tableKey = (attempt: string, rel: string): string => `t!${attempt}!${rel}`
const pointerKey = (bucket: string): string => `p!${bucket}`

export function inodeOf (st: { dev: bigint | number, ino: bigint | number }): string {
  return `${st.dev}:${st.ino}`
}

export class InodeTables {
  private readonly index: InodeIndex

  constructor (index: InodeIndex) {
    this.index = index
  }

  /** The tables of `bucket@seq`, if that version was snapshotted here and recorded them. */
  async reader (bucket: string, seq: number): Promise<((rel: string) => Promise<FolderInodes | undefined>) | undefined> {
    const text = await this.index.get(pointerKey(bucket))
    if (text === undefined) return undefined
    const pointer = JSON.parse(text) as Pointer
    if (pointer.seq !== seq) return undefined
    return async rel => {
      const value = await this.index.get(tableKey(pointer.attempt, rel))
      return value === undefined ? undefined : new Map(JSON.parse(value) as Array<[string, string]>)
    }
  }

  /** A new attempt: its writer, then `commit` once its version is recorded (or `discard`). */
  begin (): { write: (rel: string, inodes: FolderInodes) => Promise<void>, commit: (bucket: string, seq: number) => Promise<void>, discard: () => Promise<void> } {
    const attempt = randomBytes(8).toString('hex')
    return {
      write: async (rel, inodes) => { await this.index.put(tableKey(attempt, rel), JSON.stringify([...inodes])) },
      commit: async (bucket, seq) => {
        const old = await this.index.get(pointerKey(bucket))
        await this.index.put(pointerKey(bucket), JSON.stringify({ seq, attempt } satisfies Pointer))
        if (old !== undefined) await this.drop((JSON.parse(old) as Pointer).attempt)
      },
      discard: async () => { await this.drop(attempt) }
    }
  }

  private async drop (attempt: string): Promise<void> {
    const ops: Array<{ type: 'del', key: string }> = []
    for await (const key of this.index.keys({ gt: tableKey(attempt, ''), lt: `t!${attempt}!\uffff` })) ops.push({ type: 'del', key })
    if (ops.length > 0) await this.index.batch(ops)
  }
}
