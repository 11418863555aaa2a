/**
 * bench/sync, node to node: two real `rok node start` daemons on loopback (disk stores,
 * TLS first, the real sync path: manifest walk, batches, verify, store, flush). A
 * publishes a seeded folder; B subscribes and syncs it (the full copy); A publishes v2
 * with ~1% of the bytes overwritten in place and B syncs again (the update). rsync over
 * ssh on loopback copies the same folders to a third directory for comparison.
 *
 * Measured per step: wall time of the sync as the node reports it, bytes on the wire
 * (the TCP connection's byte counters from `ss`, both directions), CPU of both daemons
 * (or of rsync, ssh and sshd) from /proc, and peak RSS of the receiving daemon, sampled
 * every 50 ms and its kernel high-water mark.
 *
 * With ROK_BENCH_PERF=DIR each step also runs `perf record -g` on both daemons for just
 * that step (DIR/step-*.data); NODE_OPTIONS=--perf-basic-prof names their JS frames.
 */
import { execFile, spawn } from 'node:child_process'
import { createCipheriv, createHash } from 'node:crypto'
import { mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { initHome, startDaemon, type Daemon } from '../../test/sync/daemons.ts'

const run = promisify(execFile)
const BUCKET = 'bench/data'
const FILE_BYTES = 64 * 1024 * 1024
const TICKS_PER_SECOND = 100

export interface StepResult {
  seconds: number
  /** Payload bytes the step had to move (the version's size, or the new chunks' bytes). */
  payloadBytes: number
  wireBytes: number
  cpuSeconds: number
  /** Peak RSS of the receiving side (B's daemon; rsync: the receiving rsync is not sampled). */
  peakRssMB?: number
  /** Peak RSS of the sending daemon during the step. */
  senderPeakRssMB?: number
  /** RSS of the receiving and the sending daemon as the step starts (what earlier work left). */
  startRssMB?: { receiver: number, sender: number }
}

/** AES-CTR over zeros: a fast seeded byte stream (same as the block fixtures). */
function seeded (seed: string, length: number): Uint8Array {
  const key = createHash('sha256').update(`rok-bench-${seed}`).digest()
  return createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32)).update(new Uint8Array(length))
}

export async function writeFolder (dir: string, bytes: number): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  for (let i = 0; i * FILE_BYTES < bytes; i++) {
    const path = join(dir, `part-${String(i).padStart(3, '0')}.bin`)
    await writeFile(path, seeded(`file-${i}`, Math.min(FILE_BYTES, bytes - i * FILE_BYTES)))
    files.push(path)
  }
  return files
}

/** Overwrite ~`fraction` of the folder in 64 KiB spans at seeded places; returns bytes changed. */
export async function editFolder (files: string[], bytes: number, fraction: number): Promise<number> {
  const span = 64 * 1024
  const edits = Math.max(1, Math.round(bytes * fraction / span))
  const places = seeded('edits', edits * 8)
  const view = new DataView(places.buffer, places.byteOffset, places.byteLength)
  for (let e = 0; e < edits; e++) {
    const file = files[view.getUint32(e * 8) % files.length]
    const fd = await open(file, 'r+')
    try {
      const size = (await fd.stat()).size
      await fd.write(seeded(`edit-${e}`, span), 0, span, view.getUint32(e * 8 + 4) % (size - span))
    } finally {
      await fd.close()
    }
  }
  return edits * span
}

/** utime + stime of a process (and of its waited-for children) in seconds. */
async function cpuOf (pid: number, children = false): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[11..14] are utime, stime, cutime, cstime (stat fields 14..17)
  const own = Number(fields[11]) + Number(fields[12])
  return (children ? own + Number(fields[13]) + Number(fields[14]) : own) / TICKS_PER_SECOND
}

async function rssOf (pid: number): Promise<{ rss: number, hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** Samples a process's RSS until stopped; returns the peak in MB. */
function sampleRss (pid: number): () => number {
  let peak = 0
  const timer = setInterval(() => {
    rssOf(pid).then(r => { peak = Math.max(peak, r.rss) }, () => {})
  }, 50)
  return () => { clearInterval(timer); return peak / 1e6 }
}

/**
 * Bytes both ways over each of the sender's established TCP connections (its libp2p
 * connection and its data channel sockets alike), by local and remote address.
 */
async function wireBytes (pid: number): Promise<Map<string, number>> {
  const { stdout } = await run('ss', ['-tinpH', 'state', 'established'], { maxBuffer: 16 << 20 })
  const sockets = new Map<string, number>()
  let mine: string | undefined
  for (const line of stdout.split('\n')) {
    // a connection's line (recv-q, send-q, local, peer, process), then its indented info line
    if (!/^\s/.test(line)) { mine = line.includes(`pid=${pid},`) ? line.trim().split(/\s+/).slice(2, 4).join(' ') : undefined; continue }
    if (mine === undefined) continue
    sockets.set(mine, Number(/bytes_sent:(\d+)/.exec(line)?.[1] ?? 0) + Number(/bytes_received:(\d+)/.exec(line)?.[1] ?? 0))
  }
  return sockets
}

/**
 * What the connections open at the end of a step carried during it. A socket opened
 * before and closed during the step (a pooled data channel timing out) is not counted:
 * subtracting its earlier total made the figure negative.
 */
function wireDelta (before: Map<string, number>, after: Map<string, number>): number {
  let total = 0
  for (const [socket, bytes] of after) total += bytes - (before.get(socket) ?? 0)
  return total
}

/** The Rok side: v1 full sync, then the v2 update, between two fresh daemons. */
export async function rokSync (dir: string, bytes: number, editFraction: number, nodeArgs: string[] = []): Promise<{ full: StepResult, update: StepResult, newBytes: number }> {
  const src = join(dir, 'src')
  const files = await writeFolder(src, bytes)
  const homes = { a: join(dir, 'a'), b: join(dir, 'b') }
  await Promise.all([initHome(homes.a), initHome(homes.b)])
  const a = await startDaemon(homes.a, nodeArgs)
  let b: Daemon | undefined
  try {
    b = await startDaemon(homes.b, ['--bootstrap', a.addr, ...nodeArgs])
    await a.rok('allow', BUCKET, b.peerId)
    const v1 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v1')
    const full = await measure(a, b, async () => {
      // subscribing may start the sync by itself; syncTo waits for whichever runs
      await b!.api.subscribe({ bucket: BUCKET, peer: a.addr })
      return await syncTo(b!, 1)
    }, v1.size)
    await editFolder(files, bytes, editFraction)
    const v2 = await a.rok('publish', src, '--bucket', BUCKET, '-m', 'v2')
    const update = await measure(a, b, async () => await syncTo(b!, 2), v2.newBytes)
    return { full, update, newBytes: v2.newBytes }
  } finally {
    // stopped, not killed: a daemon run with --cpu-prof writes its profile on the way out
    await b?.stop()
    await a.stop()
  }
}

/** Sync B to `seq` and return the seconds its node reports for the sync that got it there. */
async function syncTo (b: Daemon, seq: number): Promise<number> {
  const started = performance.now()
  const report = await b.api.sync({ bucket: BUCKET })
  if (report.toSeq >= seq && report.versions > 0) return report.seconds
  // a background sync (after subscribe or an announcement) got there first: wait for it
  for (;;) {
    const s = (await b.api.syncStatus()).subscriptions.find(x => x.bucket === BUCKET)
    if (s !== undefined && s.localHead >= seq && s.state !== 'syncing') return s.last?.toSeq === seq ? s.last.seconds : (performance.now() - started) / 1000
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

async function measure (a: Daemon, b: Daemon, step: () => Promise<number>, payloadBytes: number): Promise<StepResult> {
  const [pa, pb] = [a.process.pid!, b.process.pid!]
  const [wire0, cpuA0, cpuB0, rssA0, rssB0] = await Promise.all([wireBytes(pa), cpuOf(pa), cpuOf(pb), rssOf(pa), rssOf(pb)])
  const stopB = sampleRss(pb)
  const stopA = sampleRss(pa)
  const perfDir = process.env.ROK_BENCH_PERF
  const perf = perfDir === undefined ? undefined : spawn('perf', ['record', '-F', '999', '-g', '-p', `${pa},${pb}`, '-o', join(perfDir, `step-${Date.now()}.data`)], { stdio: 'ignore' })
  const seconds = await step()
  if (perf !== undefined) { perf.kill('SIGINT'); await new Promise(resolve => perf.once('exit', resolve)) }
  const [peakB, peakA] = [stopB(), stopA()]
  const [wire1, cpuA1, cpuB1] = await Promise.all([wireBytes(pa), cpuOf(pa), cpuOf(pb)])
  return {
    seconds,
    payloadBytes,
    wireBytes: wireDelta(wire0, wire1),
    cpuSeconds: cpuA1 - cpuA0 + cpuB1 - cpuB0,
    peakRssMB: peakB,
    senderPeakRssMB: peakA,
    startRssMB: { receiver: rssB0.rss / 1e6, sender: rssA0.rss / 1e6 }
  }
}

/**
 * rsync over ssh on loopback: a throwaway sshd (own host key, own authorized key, a free
 * port, this user) and rsync -a from the folder to a copy, full and then after the edit.
 */
export async function rsyncSync (dir: string, bytes: number, editFraction: number): Promise<{ full: StepResult, update: StepResult }> {
  const sshDir = join(dir, 'ssh')
  await mkdir(sshDir, { recursive: true, mode: 0o700 })
  for (const name of ['host', 'client']) await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(sshDir, name)])
  await writeFile(join(sshDir, 'authorized_keys'), await readFile(join(sshDir, 'client.pub')), { mode: 0o600 })
  await mkdir('/run/sshd', { recursive: true })
  const port = 20000 + Math.floor(Math.random() * 20000)
  await writeFile(join(sshDir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(sshDir, 'host')}`, `AuthorizedKeysFile ${join(sshDir, 'authorized_keys')}`,
    'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'PermitRootLogin prohibit-password', 'StrictModes no',
    `PidFile ${join(sshDir, 'sshd.pid')}`
  ].join('\n') + '\n')
  const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(sshDir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let sshdLog = ''
  sshd.stderr.on('data', (d: Buffer) => { sshdLog = (sshdLog + d.toString()).slice(-2000) })
  try {
    await waitForPort(port)
    const ssh = `ssh -p ${port} -i ${join(sshDir, 'client')} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR`
    const src = join(dir, 'rsync-src')
    const files = await writeFolder(src, bytes)
    const dest = join(dir, 'rsync-dest')
    const copy = async (): Promise<StepResult> => {
      const sshdCpu0 = await cpuOf(sshd.pid!, true)
      const started = performance.now()
      // bash `times` gives rsync's and ssh's CPU (the client side); sshd's children add the server side
      const { stdout } = await run('bash', ['-c', `rsync -a --stats -e '${ssh}' '${src}/' 'root@127.0.0.1:${dest}/' && times`], { maxBuffer: 1 << 20 })
      const seconds = (performance.now() - started) / 1000
      const sent = Number(/Total bytes sent: ([\d,]+)/.exec(stdout)?.[1].replaceAll(',', '') ?? NaN)
      const received = Number(/Total bytes received: ([\d,]+)/.exec(stdout)?.[1].replaceAll(',', '') ?? NaN)
      const times = [...stdout.matchAll(/(\d+)m([\d.]+)s/g)].slice(2).map(m => Number(m[1]) * 60 + Number(m[2]))
      const clientCpu = times.reduce((s, t) => s + t, 0)
      const sshdCpu = (await cpuOf(sshd.pid!, true)) - sshdCpu0
      // rsync's own count of its protocol bytes (ssh's framing and MACs add a little)
      return { seconds, payloadBytes: 0, wireBytes: sent + received, cpuSeconds: clientCpu + sshdCpu }
    }
    const full = await copy()
    full.payloadBytes = bytes
    const changed = await editFolder(files, bytes, editFraction)
    const update = await copy()
    update.payloadBytes = changed
    return { full, update }
  } catch (err) {
    throw new Error(`rsync over ssh failed: ${(err as Error).message}\nsshd: ${sshdLog}`)
  } finally {
    sshd.kill()
  }
}

async function waitForPort (port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const { stdout } = await run('ss', ['-tlnH', `( sport = :${port} )`])
    if (stdout.trim() !== '') return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`sshd did not listen on ${port}`)
}
