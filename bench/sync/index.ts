/**
 * bench/sync: the same bytes from one node process to another on loopback, by the Rok
 * chunk exchange and by the baselines, in one run, several rounds, medians reported.
 *
 *   npx node bench/sync/index.ts [--gib 1] [--rounds 3] [--block-kib 16] [--modes a,b,...] [--profile DIR]
 *
 * CPU is user+system time of both processes over the transfer; MB/s is 10^6 bytes/s.
 */
import { spawn } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '3' },
    'block-kib': { type: 'string', default: '16' },
    modes: { type: 'string', default: 'exchange-tls,exchange-tls-inline,exchange-noise,stream-noise,stream-tls,raw-tls' },
    /** Write V8 CPU profiles of both processes to this directory. */
    profile: { type: 'string' },
    window: { type: 'string' }
  }
})
const bytes = Math.round(Number(values.gib) * 1024 ** 3)
const blockSize = Number(values['block-kib']) * 1024
const rounds = Number(values.rounds)
const modes = values.modes.split(',')
const window = values.window === undefined ? undefined : Number(values.window)
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
  const child = spawn(process.execPath, [...profile, PEER, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] })
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

interface Sample { mbps: number, cpuS: number, serverRssMB: number, clientRssMB: number }

async function once (mode: string): Promise<Sample> {
  const server = start({ role: 'serve', mode, bytes, blockSize, certDir })
  try {
    const { addr } = await server.next('ready')
    server.send('cpu')
    const cpu0 = (await server.next('cpu')).cpuMs
    const client = start({ role: 'fetch', mode, bytes, blockSize, addr, certDir, window })
    try {
      const done = await client.next('done')
      server.send('cpu')
      const cpu1 = await server.next('cpu')
      if (done.bytes < bytes) throw new Error(`${mode}: got ${done.bytes} of ${bytes} bytes`)
      // the server's CPU counts its whole wait for the client's setup too; the client's is transfer-only
      return {
        mbps: done.bytes / 1e6 / (done.ms / 1000),
        cpuS: (cpu1.cpuMs - cpu0 + done.cpuMs) / 1000,
        serverRssMB: cpu1.rss / 1e6,
        clientRssMB: done.rss / 1e6
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
try {
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      const sample = await once(mode)
      results.set(mode, [...(results.get(mode) ?? []), sample])
      console.error(`round ${r + 1} ${mode}: ${sample.mbps.toFixed(0)} MB/s, ${sample.cpuS.toFixed(2)} CPU-s`)
    }
  }
} finally {
  rmSync(certDir, { recursive: true, force: true })
}

console.log(`\n${(bytes / 1024 ** 3).toFixed(2)} GiB, ${blockSize / 1024} KiB blocks, median of ${rounds} rounds, node ${process.version}\n`)
console.log('| mode | MB/s | CPU-s (both processes) | server RSS MB | client RSS MB | runs MB/s |')
console.log('| --- | ---: | ---: | ---: | ---: | --- |')
for (const [mode, samples] of results) {
  console.log(`| ${mode} | ${median(samples.map(s => s.mbps)).toFixed(0)} | ${median(samples.map(s => s.cpuS)).toFixed(2)} | ${median(samples.map(s => s.serverRssMB)).toFixed(0)} | ${median(samples.map(s => s.clientRssMB)).toFixed(0)} | ${samples.map(s => s.mbps.toFixed(0)).join(', ')} |`)
}
