/**
 * The three tools under test, each driven through its own command line as a child
 * process: Rok (the pinned Node 24 running bin/rok.js directly, without npx, so GNU time
 * sees the Rok process itself), restic 0.14 (local repository) and casync (local store).
 * Each is given the volume at the same path for v1 and v2 (see run.ts) and uses its
 * defaults: restic 1 MiB-average chunks and zstd compression (repository
 * v2), casync 64 KiB-average chunks and zstd, Rok its FastCDC defaults, no compression.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readCasyncIndex, newChunkBytes } from './caindex.ts'
import { measure, type Measured } from './measure.ts'

export type Kind = 'image' | 'tree'

export interface SnapshotRun extends Measured {
  /** The tool's own figure for bytes added, where it reports one. */
  ownNewBytes?: number
}

export interface Tool {
  name: string
  /** Creates an empty repository under `dir` (not timed). */
  init: (dir: string) => Promise<void>
  snapshot: (dir: string, kind: Kind, version: 1 | 2, source: string) => Promise<SnapshotRun>
  /** Restores version 2 to `dest`; returns where the restored volume is. */
  restore: (dir: string, kind: Kind, source: string, dest: string) => Promise<Measured & { restored: string }>
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const NODE = join(ROOT, 'node_modules/node/bin/node')
const ROK = join(ROOT, 'bin/rok.js')

export function rok (extraNodeArgs: () => string[] = () => []): Tool {
  const home = (dir: string): string => join(dir, 'home')
  const run = async (args: string[]): Promise<Measured> => await measure([NODE, ...extraNodeArgs(), ROK, ...args])
  return {
    name: 'rok',
    async init (dir) {
      execFileSync(NODE, [ROK, 'init', '--home', home(dir), '--json'], { stdio: 'ignore' })
    },
    async snapshot (dir, kind, version, source) {
      // --ignore-inode, as for restic: the v2 tree is a second copy (new inodes) moved into place
      const m = await run(['snapshot', source, '--bucket', `bench/${kind}`, '-m', `v${version}`, '--ignore-inode', '--home', home(dir), '--json'])
      const out = JSON.parse(m.stdout) as { newBytes: number, seq: number }
      if (out.seq !== version) throw new Error(`rok recorded seq ${out.seq}, expected ${version}`)
      return { ...m, ownNewBytes: out.newBytes }
    },
    async restore (dir, kind, _source, dest) {
      const m = await run(['restore', `bench/${kind}@2`, dest, '--home', home(dir), '--json'])
      return { ...m, restored: dest }
    }
  }
}

export function restic (): Tool {
  const env = (dir: string): NodeJS.ProcessEnv => ({
    RESTIC_PASSWORD: 'rok-bench', RESTIC_REPOSITORY: join(dir, 'repo'), RESTIC_CACHE_DIR: join(dir, 'cache')
  })
  const snapshots = new Map<string, string>()
  return {
    name: 'restic',
    async init (dir) {
      execFileSync('restic', ['init'], { env: { ...process.env, ...env(dir) }, stdio: 'ignore' })
    },
    async snapshot (dir, kind, version, source) {
      // v1 and v2 are snapshotted from the same path, so v2 finds v1 as its parent and
      // skips unchanged files, as Rok does. --ignore-inode: the v2 tree is a second copy
      // (other inodes), standing in for the same folder modified in place.
      const m = await measure(['restic', 'backup', '--json', '--ignore-inode', '--host', 'bench', '--tag', kind, source], env(dir))
      const summary = m.stdout.split('\n').filter(l => l.includes('"summary"')).map(l => JSON.parse(l) as { data_added: number, snapshot_id: string })[0]
      if (summary === undefined) throw new Error('restic printed no summary')
      snapshots.set(`${dir}:${kind}:${version}`, summary.snapshot_id)
      return { ...m, ownNewBytes: summary.data_added }
    },
    async restore (dir, kind, source, dest) {
      const id = snapshots.get(`${dir}:${kind}:2`)
      if (id === undefined) throw new Error('restic: no v2 snapshot to restore')
      const m = await measure(['restic', 'restore', id, '--target', dest], env(dir))
      return { ...m, restored: join(dest, source) }
    }
  }
}

export function casync (): Tool {
  const index = (dir: string, kind: Kind, version: number): string => join(dir, `v${version}.${kind === 'image' ? 'caibx' : 'caidx'}`)
  return {
    name: 'casync',
    async init (dir) {
      mkdirSync(join(dir, 'store'), { recursive: true })
    },
    async snapshot (dir, kind, version, source) {
      const m = await measure(['casync', 'make', `--store=${join(dir, 'store')}`, index(dir, kind, version), source])
      if (version === 1) return m
      const fresh = newChunkBytes(readCasyncIndex(index(dir, kind, 1)), readCasyncIndex(index(dir, kind, 2)))
      return { ...m, ownNewBytes: fresh.bytes }
    },
    async restore (dir, kind, _source, dest) {
      const m = await measure(['casync', 'extract', `--store=${join(dir, 'store')}`, index(dir, kind, 2), dest])
      return { ...m, restored: dest }
    }
  }
}
