/**
 * The demo's processes: every step is the real `rok` CLI (bin/rok.js) in its own process,
 * as a user would type it — a registry, one node daemon per cluster, and one-shot verbs.
 * Each command is echoed (`A$ rok publish …`) so the narrative teaches the CLI; long-lived
 * children are tracked so that one call stops them all, whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connectToNode, type NodeApiClient } from '../../node/api/client.ts'

export const ROK = fileURLToPath(new URL('../rok.js', import.meta.url))

/** Longest wait for a registry or node to come up on a busy 2-core machine. */
const START_TIMEOUT_MS = 60_000

export interface Runner {
  /** Run `rok ARGS --home HOME --json` as `who`; resolves to the parsed result, rejects with the CLI's own error line. */
  rok: <T = any>(who: string, home: string, args: string[]) => Promise<T>
  /** `rok registry start` in the background; resolves once it listens. */
  startRegistry: (home: string, args: string[]) => Promise<Service & { url: string }>
  /** `rok node start` in the background; resolves once its API answers. */
  startNode: (who: string, home: string, args: string[]) => Promise<Service & NodeHandle>
  /** SIGTERM every background process still running and wait for them. */
  stopAll: () => Promise<void>
}

export interface Service {
  /** SIGTERM (a clean stop) and wait for the exit. */
  stop: () => Promise<void>
  /** SIGKILL (a crash) and wait for the exit. */
  kill: () => Promise<void>
}

export interface NodeHandle {
  peerId: string
  /** Listen address ending in /p2p/<peer id>. */
  addr: string
  /** The daemon's API, for polling status without a process per poll. */
  api: NodeApiClient
}

export interface RunnerInit {
  /** Where echoed commands go. */
  print: (line: string) => void
  /** Replaced by `$DEMO` in echoed commands, so they read like the README. */
  workDir: string
  /** Added to every child's environment (e.g. the object store's keys). */
  env?: Record<string, string>
}

export function createRunner (init: RunnerInit): Runner {
  const children = new Set<ChildProcess>()
  const env = { ...process.env, ...init.env }
  const show = (who: string, args: string[], background = false): void => {
    const text = args.map(a => a.split(init.workDir).join('$DEMO')).map(a => /[\s"']/.test(a) ? JSON.stringify(a) : a).join(' ')
    init.print(`  ${who}$ rok ${text}${background ? ' &' : ''}`)
  }
  const background = (args: string[]): { child: ChildProcess, exited: Promise<{ code: number | null, stderr: string }> } & Service => {
    const child = spawn(process.execPath, [ROK, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<{ code: number | null, stderr: string }>(resolve => {
      child.once('close', code => { children.delete(child); resolve({ code, stderr }) })
    })
    const end = (signal: NodeJS.Signals) => async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
    return { child, exited, stop: end('SIGTERM'), kill: end('SIGKILL') }
  }

  return {
    async rok (who, home, args) {
      show(who, args)
      const child = spawn(process.execPath, [ROK, ...args, '--home', home, '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      const code = await new Promise<number | null>((resolve, reject) => { child.on('error', reject); child.on('close', resolve) })
      if (code !== 0) throw new Error(`${who}: ${err.trim().split('\n')[0] ?? `rok ${args[0]} exited ${code}`}`)
      return JSON.parse(out)
    },

    async startRegistry (home, args) {
      const full = ['registry', 'start', ...args]
      show('R', full, true)
      const p = background([...full, '--home', home, '--json'])
      let out = ''
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => { reject(new Error(`the registry did not start within ${START_TIMEOUT_MS / 1000} s`)) }, START_TIMEOUT_MS)
        p.child.stdout!.on('data', (d: Buffer) => {
          out += d.toString()
          let r: { url?: string, error?: { code: string, message: string } }
          try { r = JSON.parse(out) } catch { return }
          clearTimeout(timer)
          if (typeof r.url === 'string') resolve(r.url)
          else reject(new Error(`the registry did not start: ${r.error?.message ?? out} [${r.error?.code ?? 'ERR_UNEXPECTED'}]`))
        })
        void p.exited.then(r => { clearTimeout(timer); reject(new Error(`the registry exited ${r.code}: ${r.stderr.trim()}`)) })
      })
      return { url, stop: p.stop, kill: p.kill }
    },

    async startNode (who, home, args) {
      const full = ['node', 'start', ...args]
      show(who, full, true)
      const p = background([...full, '--home', home])
      p.child.stdout!.resume()
      let dead: { code: number | null, stderr: string } | undefined
      void p.exited.then(r => { dead = r })
      const until = Date.now() + START_TIMEOUT_MS
      while (Date.now() < until && dead === undefined) {
        try {
          const info = JSON.parse(await readFile(join(home, 'node.json'), 'utf8')) as { pid: number, addrs: string[], peerId: string }
          const api = info.pid === p.child.pid ? await connectToNode(home) : undefined
          if (api !== undefined) {
            const addr = info.addrs.find(a => a.includes('/p2p/')) ?? `${info.addrs[0]}/p2p/${info.peerId}`
            return { peerId: info.peerId, addr, api, stop: p.stop, kill: p.kill }
          }
        } catch {}
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      await p.stop()
      throw new Error(`${who}: the node did not start${dead !== undefined ? `: ${dead.stderr.trim()}` : ''}`)
    },

    async stopAll () {
      await Promise.all([...children].map(async child => {
        const done = new Promise(resolve => child.once('close', resolve))
        child.kill('SIGTERM')
        await done
      }))
    }
  }
}

/** Poll until a probe returns a value (the same helper the multi-process tests use). */
export { waitFor } from '../../test/sync/daemons.ts'
