/**
 * Measuring a tool the same way whoever it is: a child process under GNU time (peak RSS
 * of the process, `%M`; user+system CPU, `%U %S`), wall time from spawn to exit plus a `sync` so deferred
 * writeback is charged to the tool that deferred it, store growth by `du -sb`.
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'

export interface Measured {
  seconds: number
  /** Peak resident set of the child, bytes (GNU time %M). */
  peakRss: number
  /** User + system CPU seconds of the child (GNU time %U + %S): robust to a busy machine. */
  cpuSeconds: number
  stdout: string
  /**
   * Where the peak resident set was, from /proc sampled every 50 ms (Linux): anonymous
   * memory (JS heap, buffers, malloc arenas) vs file pages mapped (code, mmapped index
   * files), in bytes at the sample with the highest VmRSS. Absent where /proc is not.
   */
  rssAtPeak?: { total: number, anon: number, file: number, shmem: number, atSeconds: number }
}

/** The process /usr/bin/time runs: its only child. */
function timedChild (timePid: number): number | undefined {
  try {
    const pid = Number(readFileSync(`/proc/${timePid}/task/${timePid}/children`, 'utf8').trim().split(' ')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

function rssOf (pid: number): { total: number, anon: number, file: number, shmem: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
    return { total: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), shmem: kb('RssShmem') }
  } catch {
    return undefined
  }
}

/** Drops the page cache so every phase starts cold. Returns false where not permitted. */
export function dropCaches (): boolean {
  try {
    execFileSync('sync')
    writeFileSync('/proc/sys/vm/drop_caches', '3\n')
    return true
  } catch {
    return false
  }
}

export function duBytes (path: string): number {
  try {
    return Number(execFileSync('du', ['-sb', path], { encoding: 'utf8' }).split('\t')[0])
  } catch {
    return 0
  }
}

export async function measure (argv: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Measured> {
  const started = performance.now()
  const child = spawn('/usr/bin/time', ['-f', '@@RSS %M @@CPU %U %S', ...argv], { env: { ...process.env, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  let rssAtPeak: Measured['rssAtPeak']
  const sampler = setInterval(() => {
    const pid = child.pid === undefined ? undefined : timedChild(child.pid)
    const rss = pid === undefined ? undefined : rssOf(pid)
    if (rss !== undefined && Number.isFinite(rss.total) && (rssAtPeak === undefined || rss.total > rssAtPeak.total)) rssAtPeak = { ...rss, atSeconds: (performance.now() - started) / 1000 }
  }, 50)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearInterval(sampler)
  execFileSync('sync')
  const seconds = (performance.now() - started) / 1000
  if (code !== 0) throw new Error(`${argv.join(' ')} exited with ${code}:\n${stderr.slice(-2000)}\n${stdout.slice(-1000)}`)
  const m = /@@RSS (\d+) @@CPU ([\d.]+) ([\d.]+)/.exec(stderr)
  if (m === null) throw new Error(`no RSS/CPU figure from /usr/bin/time for ${argv[0]}: ${stderr.slice(-500)}`)
  return { seconds, peakRss: Number(m[1]) * 1024, cpuSeconds: Number(m[2]) + Number(m[3]), stdout, rssAtPeak }
}

export function median (xs: number[]): number {
  const s = [...xs].filter(x => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
