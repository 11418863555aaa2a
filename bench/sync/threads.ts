/**
 * Where one bench/sync transfer's CPU goes, thread by thread: runs peer.ts pairs (serve,
 * fetch) and reads every thread's CPU time from /proc/PID/task/TID/stat before and after
 * the timed part. A/B comparisons on a noisy machine need this (CPU moves less than MB/s).
 *
 *   npx node bench/sync/threads.ts [--mode exchange-data-disk] [--pairs 3] [--gib 1]
 *                                  [--peer bench/sync/peer.ts] [--node-flags='--perf-basic-prof']
 *                                  [--perf FILE]   record `perf record -a -g` over the transfer
 *                                  [--perf-event E] what --perf samples (default cpu-clock; a probe_*: event counts calls)
 *                                  [--warm-mib N]  move N MiB the same way before the timed transfer (see peer.ts)
 *                                  [--show-output] print the peers' non-protocol output (e.g. --trace-gc)
 *
 * `--peer` runs another checkout's peer.ts against the same harness (an A/B pair). Linux only.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'exchange-data-disk' },
    pairs: { type: 'string', default: '3' },
    gib: { type: 'string', default: '1' },
    'block-kib': { type: 'string', default: '16' },
    peer: { type: 'string', default: fileURLToPath(new URL('./peer.ts', import.meta.url)) },
    'node-flags': { type: 'string', default: '' },
    perf: { type: 'string' },
    'perf-event': { type: 'string', default: 'cpu-clock' },
    'warm-mib': { type: 'string', default: '0' },
    'show-output': { type: 'boolean', default: false }
  }
})
const bytes = Math.round(Number(values.gib) * 1024 ** 3)
const blockSize = Number(values['block-kib']) * 1024
const pairs = Number(values.pairs)
const warmBytes = Math.round(Number(values['warm-mib']) * 1024 ** 2)
if (!Number.isInteger(pairs) || pairs < 1 || !(bytes > 0) || !(blockSize > 0) || !(warmBytes >= 0)) {
  console.error('usage: threads.ts [--mode M] [--pairs N >= 1] [--gib G > 0] [--block-kib K > 0] [--warm-mib N >= 0] [--peer FILE] [--node-flags FLAGS] [--perf FILE] [--perf-event E] [--show-output]')
  process.exit(2)
}
const flags = values['node-flags'].split(' ').filter(s => s !== '')
// clock ticks per second of /proc/PID/task/TID/stat (USER_HZ, 100 on Linux)
const HZ = 100

interface Peer { child: ChildProcess, next: (type: string) => Promise<any> }

function start (config: Record<string, unknown>): Peer {
  const child = spawn(process.execPath, [...flags, values.peer, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
  const queue: any[] = []
  const waiters: Array<{ type: string, resolve: (m: any) => void }> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let msg: any
    try { msg = JSON.parse(line) } catch {
      if (values['show-output']) console.error(`[${child.pid}] ${line}`)
      return
    }
    const i = waiters.findIndex(w => w.type === msg.type)
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg)
    else queue.push(msg)
  })
  return {
    child,
    next: async (type) => {
      const i = queue.findIndex(m => m.type === type)
      if (i >= 0) return queue.splice(i, 1)[0]
      return await new Promise(resolve => waiters.push({ type, resolve }))
    }
  }
}

/** CPU seconds per thread id, with the thread's name ('main' for the process's first). */
function threads (pid: number): Map<string, { name: string, cpu: number }> {
  const out = new Map<string, { name: string, cpu: number }>()
  let tids: string[]
  try { tids = readdirSync(`/proc/${pid}/task`) } catch { return out }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = Number(tid) === pid ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.set(tid, { name, cpu: (Number(fields[11]) + Number(fields[12])) / HZ })
    } catch {}
  }
  return out
}

/** CPU seconds per thread name between two readings. */
function spent (before: Map<string, { cpu: number }>, after: Map<string, { name: string, cpu: number }>): Record<string, number> {
  const by: Record<string, number> = {}
  for (const [tid, t] of after) by[t.name] = (by[t.name] ?? 0) + t.cpu - (before.get(tid)?.cpu ?? 0)
  return by
}

const show = (by: Record<string, number>): string => Object.entries(by).filter(([, s]) => s >= 0.02).map(([n, s]) => `${n} ${s.toFixed(2)}`).join(', ')
const total = (by: Record<string, number>): number => Object.values(by).reduce((a, b) => a + b, 0)

for (let p = 0; p < pairs; p++) {
  const server = start({ role: 'serve', mode: values.mode, bytes, blockSize, warmBytes })
  const { addr, cid } = await server.next('ready')
  const client = start({ role: 'fetch', mode: values.mode, bytes, blockSize, addr, cid, warmBytes })
  if (warmBytes > 0) {
    await client.next('warmed')
    client.child.stdin!.write('go\n')
  }
  // readings every 20 ms: the one taken as the timed part began is found afterwards from its length
  const readings: Array<[number, Map<string, { name: string, cpu: number }>, Map<string, { name: string, cpu: number }>]> = []
  const timer = setInterval(() => { readings.push([performance.now(), threads(client.child.pid!), threads(server.child.pid!)]) }, 20)
  if (values.perf !== undefined) {
    void client.next('started').then(() => {
      spawn('perf', ['record', '-e', values['perf-event'], '-F', '4999', '-g', '-a', '-o', values.perf!, '--', 'sleep', '2'], { stdio: 'ignore' })
    })
  }
  const done = await client.next('done')
  const end = performance.now()
  clearInterval(timer)
  const last: [number, Map<string, { name: string, cpu: number }>, Map<string, { name: string, cpu: number }>] = [end, threads(client.child.pid!), threads(server.child.pid!)]
  const first = readings.findLast(r => r[0] <= end - done.ms) ?? readings[0] ?? last
  const fetch = spent(first[1], last[1])
  const serve = spent(first[2], last[2])
  console.log(`${values.mode} ${(done.bytes / 1e6 / (done.ms / 1000)).toFixed(0)} MB/s, ${(total(fetch) + total(serve)).toFixed(2)} CPU-s | serve: ${show(serve)} | fetch: ${show(fetch)} | fetch RSS ${(done.rss / 1e6).toFixed(0)} MB`)
  for (const peer of [client, server]) peer.child.stdin!.write('exit\n')
  await new Promise(resolve => setTimeout(resolve, 1500))
  for (const peer of [client, server]) peer.child.kill('SIGKILL')
}
