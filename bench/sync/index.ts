/**
 * bench/sync: the same bytes from one process to another on loopback, by the Rok chunk
 * exchange and by the baselines (a libp2p stream, a raw TLS socket, the floor of a verifying
 * store on a raw TLS socket, Helia's bitswap), in
 * one run, several rounds, medians reported; then two `rok node start` daemons syncing a
 * folder (full copy and a ~1% update) against rsync over ssh (nodes.ts).
 *
 *   npx node bench/sync/index.ts [--gib 1] [--rounds 3] [--block-kib 16] [--modes a,b,...]
 *                                [--nodes-gib 1] [--node-rounds 3] [--node-args '--memory-limit 256MB'] [--profile DIR] [--pin]
 *                                [--warm-mib 0]
 *
 * CPU is user+system time of both processes over the transfer; MB/s is 10^6 bytes/s;
 * wire bytes are the TCP connection's byte counters (`ss`), both directions.
 * `--modes ''` or `--node-rounds 0` skips a part.
 */
import { spawn } from 'node:child_process'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { rokSync, rsyncSync, type StepResult } from './nodes.ts'

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'block-kib': { type: 'string', default: '16' },
    modes: { type: 'string', default: 'exchange-data,exchange-data-disk,exchange-tls,exchange-noise,stream-noise,stream-tls,raw-tls,raw-tls-store,helia' },
    'nodes-gib': { type: 'string' },
    'node-rounds': { type: 'string', default: '3' },
    /** Share of the folder overwritten for the update (v2). */
    edit: { type: 'string', default: '0.01' },
    /** Write V8 CPU profiles of both processes to this directory. */
    profile: { type: 'string' },
    window: { type: 'string' },
    /** MiB each fetching process moves (the same way) before the timed transfer; 0: fresh processes. See peer.ts. */
    'warm-mib': { type: 'string', default: '0' },
    /** Pin the serving process to CPU 0 and the fetching one to CPU 1 (`taskset`): the ends stop sharing cores. */
    pin: { type: 'boolean', default: false },
    /** Extra `rok node start` options for both daemons, space-separated. */
    'node-args': { type: 'string', default: '' }
  }
})
const bytes = Math.round(Number(values.gib) * 1024 ** 3)
const blockSize = Number(values['block-kib']) * 1024
const rounds = Number(values.rounds)
const modes = values.modes.split(',').filter(m => m !== '')
const nodeBytes = Math.round(Number(values['nodes-gib'] ?? values.gib) * 1024 ** 3)
const nodeRounds = Number(values['node-rounds'])
const editFraction = Number(values.edit)
const window = values.window === undefined ? undefined : Number(values.window)
const warmBytes = Math.round(Number(values['warm-mib']) * 1024 ** 2)
if (!(warmBytes >= 0)) throw new Error(`--warm-mib must be a number of MiB >= 0, not ${values['warm-mib']}`)
const PEER = fileURLToPath(new URL('./peer.ts', import.meta.url))

const certDir = mkdtempSync(join(tmpdir(), 'rok-bench-'))
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
  '-subj', '/CN=localhost', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')], { stdio: 'ignore' })

interface Proc {
  next: (type: string) => Promise<any>
  send: (line: string) => void
  kill: () => void
}

function start (config: Record<string, unknown>): Proc {
  const profile = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values.profile}`]
  const argv = [process.execPath, ...profile, PEER, JSON.stringify(config)]
  const pinned = values.pin ? ['taskset', '-c', config.role === 'serve' ? '0' : '1', ...argv] : argv
  const child = spawn(pinned[0], pinned.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] })
  const queue: any[] = []
  const waiters: Array<{ type: string, resolve: (m: any) => void, reject: (e: Error) => void }> = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    const msg = JSON.parse(line)
    const i = waiters.findIndex(w => w.type === msg.type)
    if (i >= 0) waiters.splice(i, 1)[0].resolve(msg)
    else queue.push(msg)
  })
  child.once('exit', (code) => { for (const w of waiters) w.reject(new Error(`bench peer exited ${code}`)) })
  return {
    next: async (type) => {
      const i = queue.findIndex(m => m.type === type)
      if (i >= 0) return queue.splice(i, 1)[0]
      return await new Promise((resolve, reject) => waiters.push({ type, resolve, reject }))
    },
    send: (line) => { child.stdin.write(line + '\n') },
    // ask first so a profiled process can write its profile, then make sure
    kill: () => {
      if (child.exitCode !== null) return
      child.stdin.write('exit\n')
      setTimeout(() => { child.kill('SIGKILL') }, 3000).unref()
    }
  }
}

interface Sample { mbps: number, cpuS: number, serverCpuS: number, clientCpuS: number, serverRssMB: number, clientRssMB: number, wireMB: number }

const run = promisify(execFile)

/** Bytes received by both ends of the established connections on `ports`. */
async function wireBytes (ports: number[]): Promise<number> {
  let total = 0
  for (const port of ports) {
    const { stdout } = await run('ss', ['-tinH', 'state', 'established', `( sport = :${port} or dport = :${port} )`])
    for (const m of stdout.matchAll(/bytes_received:(\d+)/g)) total += Number(m[1])
  }
  return total
}

async function once (mode: string): Promise<Sample> {
  const warming = warmBytes > 0 && mode !== 'helia'
  const server = start({ role: 'serve', mode, bytes, blockSize, certDir, warmBytes: warming ? warmBytes : 0 })
  try {
    const { addr, cid, dataPort } = await server.next('ready')
    const port = Number(/(?:\/tcp\/|:)(\d+)(?:\/|$)/.exec(addr)?.[1])
    const ports = dataPort === undefined ? [port] : [port, dataPort]
    const serverCpu = async (): Promise<number> => { server.send('cpu'); return (await server.next('cpu')).cpuMs }
    let cpu0 = warming ? 0 : await serverCpu()
    const client = start({ role: 'fetch', mode, bytes, blockSize, addr, cid, certDir, window, warmBytes: warming ? warmBytes : 0 })
    try {
      // the warm-up's CPU and bytes are left out: both are read again once it is over
      let wire0 = 0
      if (warming) {
        await client.next('warmed')
        cpu0 = await serverCpu()
        wire0 = await wireBytes(ports)
        client.send('go')
      }
      const done = await client.next('done')
      const wire = await wireBytes(ports) - wire0
      server.send('cpu')
      const cpu1 = await server.next('cpu')
      if (done.bytes < bytes) throw new Error(`${mode}: got ${done.bytes} of ${bytes} bytes`)
      // the server's CPU counts its whole wait for the client's setup too; the client's is transfer-only
      return {
        mbps: done.bytes / 1e6 / (done.ms / 1000),
        cpuS: (cpu1.cpuMs - cpu0 + done.cpuMs) / 1000,
        serverCpuS: (cpu1.cpuMs - cpu0) / 1000,
        clientCpuS: done.cpuMs / 1000,
        serverRssMB: cpu1.rss / 1e6,
        clientRssMB: done.rss / 1e6,
        wireMB: wire / 1e6
      }
    } finally {
      client.kill()
    }
  } finally {
    server.kill()
  }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const results = new Map<string, Sample[]>()
const failures = new Map<string, number>()
try {
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      let sample: Sample
      try {
        sample = await once(mode)
      } catch (err) {
        // one failed sample (e.g. a stream that could not open on an overloaded machine) is reported, not fatal
        console.error(`round ${r + 1} ${mode}: failed: ${(err as Error).message}`)
        failures.set(mode, (failures.get(mode) ?? 0) + 1)
        continue
      }
      results.set(mode, [...(results.get(mode) ?? []), sample])
      console.error(`round ${r + 1} ${mode}: ${sample.mbps.toFixed(0)} MB/s, ${sample.cpuS.toFixed(2)} CPU-s`)
    }
  }
} finally {
  rmSync(certDir, { recursive: true, force: true })
}

if (modes.length > 0) {
  const warmth = warmBytes > 0 ? `timed after a ${values['warm-mib']} MiB warm-up transfer in the same processes (Helia: fresh)` : 'fresh processes'
  console.log(`\n${(bytes / 1024 ** 3).toFixed(2)} GiB, ${blockSize / 1024} KiB blocks, median of ${rounds} rounds, ${warmth}, node ${process.version}\n`)
  console.log('| mode | MB/s | CPU-s (both processes) | CPU-s server / client | CPU-s per GB | wire MB | server RSS MB | client RSS MB | runs MB/s |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const [mode, samples] of results) {
    const failed = failures.get(mode) ?? 0
    console.log(`| ${mode} | ${median(samples.map(s => s.mbps)).toFixed(0)} | ${median(samples.map(s => s.cpuS)).toFixed(2)} | ${median(samples.map(s => s.serverCpuS)).toFixed(2)} / ${median(samples.map(s => s.clientCpuS)).toFixed(2)} | ${(median(samples.map(s => s.cpuS)) / (bytes / 1e9)).toFixed(1)} | ${median(samples.map(s => s.wireMB)).toFixed(0)} | ${median(samples.map(s => s.serverRssMB)).toFixed(0)} | ${median(samples.map(s => s.clientRssMB)).toFixed(0)} | ${samples.map(s => s.mbps.toFixed(0)).join(', ')}${failed > 0 ? ` (${failed} failed)` : ''} |`)
  }
  // the targets' ratios, each between two modes of this run
  const rate = (mode: string): number | undefined => { const xs = results.get(mode); return xs === undefined ? undefined : median(xs.map(x => x.mbps)) }
  const ours = rate('exchange-data-disk') ?? rate('exchange-data')
  for (const base of ['stream-noise', 'helia', 'raw-tls-store', 'raw-tls']) {
    const theirs = rate(base)
    if (ours !== undefined && theirs !== undefined) console.log(`exchange / ${base}: ${(ours / theirs).toFixed(2)}×`)
  }
}

if (nodeRounds > 0) {
  const steps = new Map<string, StepResult[]>()
  const add = (name: string, r: StepResult): void => { steps.set(name, [...(steps.get(name) ?? []), r]) }
  for (let r = 0; r < nodeRounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'rok-bench-nodes-'))
    try {
      const rok = await rokSync(dir, nodeBytes, editFraction, values['node-args'].split(' ').filter(a => a !== ''))
      add('rok full copy (v1)', rok.full)
      add('rok update (v2)', rok.update)
      const rsync = await rsyncSync(dir, nodeBytes, editFraction)
      add('rsync over ssh, full copy', rsync.full)
      add('rsync over ssh, update', rsync.update)
      console.error(`node round ${r + 1}: rok ${mbps(rok.full).toFixed(0)} MB/s full, update ${rok.update.seconds.toFixed(2)} s; rsync ${mbps(rsync.full).toFixed(0)} MB/s full, update ${rsync.update.seconds.toFixed(2)} s`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  console.log(`\nNode to node: ${(nodeBytes / 1024 ** 3).toFixed(2)} GiB folder of 64 MiB files, update overwrites ${(editFraction * 100).toFixed(1)}% in 64 KiB spans; median of ${nodeRounds} rounds\n`)
  console.log('| step | seconds | MB/s | payload MB | wire MB | CPU-s | receiver peak RSS MB | sender peak RSS MB | runs seconds |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |')
  for (const [name, rs] of steps) {
    const m = (f: (x: StepResult) => number | undefined): string => {
      const xs = rs.map(f).filter((x): x is number => x !== undefined)
      return xs.length === 0 ? '—' : median(xs).toFixed(1)
    }
    console.log(`| ${name} | ${median(rs.map(x => x.seconds)).toFixed(2)} | ${m(mbps)} | ${m(x => x.payloadBytes / 1e6)} | ${m(x => x.wireBytes / 1e6)} | ${median(rs.map(x => x.cpuSeconds)).toFixed(2)} | ${m(x => x.peakRssMB)} | ${m(x => x.senderPeakRssMB)} | ${rs.map(x => x.seconds.toFixed(2)).join(', ')} |`)
  }
  for (const [name, rs] of steps) {
    const start = rs.flatMap(x => x.startRssMB === undefined ? [] : [`${x.startRssMB.receiver.toFixed(1)} / ${x.startRssMB.sender.toFixed(1)}`])
    if (start.length > 0) console.log(`${name}: RSS MB as the step started, receiver / sender, per round: ${start.join(', ')}`)
  }
}

function mbps (r: StepResult): number {
  return r.payloadBytes / 1e6 / r.seconds
}
