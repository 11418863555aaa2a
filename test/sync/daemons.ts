/**
 * Node daemons for sync tests: each `rok node start` in its own process on loopback,
 * driven through the real CLI. `kill()` is SIGKILL (a crash), `stop()` SIGTERM.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { NodeApiClient } from '../../node/api/client.ts'
import { collect, rokJson, runRok, spawnRok, type CliResult } from '../fixtures/cli.ts'
import { seededBytes, seededRandom } from '../fixtures/seeded.ts'

export interface Daemon {
  home: string
  peerId: string
  /** Listen address with /p2p/. */
  addr: string
  process: ChildProcess
  rok: <T = any>(...args: string[]) => Promise<T>
  /** The daemon's API client (faster than the CLI for polling). */
  api: NodeApiClient
  stop: () => Promise<CliResult>
  kill: () => Promise<CliResult>
}

export async function waitFor<T> (what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> {
  const until = Date.now() + ms
  let last: unknown
  while (Date.now() < until) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) { last = err }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  throw new Error(`timed out waiting for ${what}${last !== undefined ? `: ${(last as Error).message}` : ''}`)
}

export async function initHome (home: string): Promise<void> {
  await rokJson(['init', '--home', home])
}

export async function startDaemon (home: string, args: string[] = [], env: Record<string, string> = {}): Promise<Daemon> {
  const child = spawnRok(['node', 'start', '--home', home, ...args], env)
  const exited = collect(child)
  let dead: CliResult | undefined
  void exited.then(r => { dead = r })
  const info = await waitFor(`node at ${home}`, async () => {
    if (dead !== undefined) throw new Error(`node exited ${dead.code}: ${dead.stderr}`)
    const i = JSON.parse(await readFile(join(home, 'node.json'), 'utf8')) as { pid: number, peerId: string, addrs: string[], api: string }
    return i.pid === child.pid ? i : undefined
  })
  if (dead !== undefined) throw new Error(`node exited: ${(dead as CliResult).stderr}`)
  const addr = info.addrs.find(a => a.includes('/p2p/')) ?? `${info.addrs[0]}/p2p/${info.peerId}`
  return {
    home,
    peerId: info.peerId,
    addr,
    process: child,
    rok: async (...a) => await rokJson([...a, '--home', home]),
    api: new NodeApiClient({ url: info.api, token: (await readFile(join(home, 'api-token'), 'utf8')).trim() }),
    stop: async () => { child.kill('SIGTERM'); return await exited },
    kill: async () => { child.kill('SIGKILL'); return await exited }
  }
}

export { runRok }

/** The daemon's Prometheus metrics named `rok_node_*`, by the rest of their name. */
export async function metricsOf (d: Daemon): Promise<Record<string, number>> {
  const info = JSON.parse(await readFile(join(d.home, 'node.json'), 'utf8')) as { api: string }
  const text = await (await fetch(`${info.api}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^rok_node_(\w+) (\S+)$/gm)) out[m[1]] = Number(m[2])
  return out
}

/** `files` seeded files of `fileSize` bytes each in `dir`. */
export async function writeDataset (dir: string, seed: number, files: number, fileSize: number): Promise<number> {
  await mkdir(join(dir, 'part'), { recursive: true })
  for (let i = 0; i < files; i++) await writeFile(join(dir, i % 2 === 0 ? 'part' : '', `f${i}.bin`), seededBytes(seed * 1000 + i, fileSize))
  return files * fileSize
}

/** Overwrite `edits` spans of `span` bytes at seeded places in seeded files: ~edits×span bytes changed. */
export async function editDataset (dir: string, seed: number, files: number, fileSize: number, edits: number, span: number): Promise<void> {
  const next = seededRandom(seed)
  for (let e = 0; e < edits; e++) {
    const i = next() % files
    const path = join(dir, i % 2 === 0 ? 'part' : '', `f${i}.bin`)
    const bytes = new Uint8Array(await readFile(path))
    const at = next() % (fileSize - span)
    bytes.set(seededBytes(seed * 7 + e, span), at)
    await writeFile(path, bytes)
  }
}
