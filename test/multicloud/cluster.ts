/**
 * Rok processes inside the clouds of a test WAN (test/fixtures/netns.ts): a registry and
 * node daemons, each a real `rok` process in its cloud's namespace with its own home,
 * driven through the real CLI run in the same namespace (a node's API listens on that
 * namespace's loopback, as on a real host).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ChildProcess } from 'node:child_process'
import { collect, ROK_BIN, type CliResult } from '../fixtures/cli.ts'
import type { Cloud, Wan } from '../fixtures/netns.ts'
import { waitFor } from '../sync/daemons.ts'

export { waitFor }

export interface NsRegistry { url: string, adminToken: string, child: ChildProcess }

export interface NsNode {
  cloud: Cloud
  home: string
  peerId: string
  addr: string
  child: ChildProcess
  /** Settles when the node process exits. */
  exited: Promise<CliResult>
  /** `rok ARGS --home HOME --json` in the node's cloud; throws with stderr on a non-zero exit. */
  rok: <T = any>(...args: string[]) => Promise<T>
  /** The same without --json and without throwing. */
  run: (...args: string[]) => Promise<CliResult>
  /** The node's sync status from its API, through curl in its cloud (a Node CLI per poll would eat the CPU the nodes need). */
  status: () => Promise<any>
}

/** `rok ARGS` in `cloud` (no --home added). */
export async function rokIn (wan: Wan, cloud: Cloud, args: string[]): Promise<CliResult> {
  return await wan.run(cloud, process.execPath, [ROK_BIN, ...args])
}

export async function rokJsonIn<T = any> (wan: Wan, cloud: Cloud, args: string[]): Promise<T> {
  const r = await rokIn(wan, cloud, [...args, '--json'])
  if (r.code !== 0) throw new Error(`rok ${args.join(' ')} in ${cloud.ns} exited ${r.code}: ${r.stderr}`)
  return JSON.parse(r.stdout) as T
}

/** `rok registry start` in `cloud` on `port`, exposed to the other clouds. */
export async function startRegistryIn (wan: Wan, cloud: Cloud, home: string, port: number): Promise<NsRegistry> {
  const child = wan.spawn(cloud, process.execPath, [ROK_BIN, 'registry', 'start', '--listen', `${cloud.ip}:${port}`, '--home', home, '--log-level', 'warn', '--rate-limit', '0'])
  const exited = collect(child)
  let out = ''
  const ready = await new Promise<NsRegistry>((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`registry did not start: ${out}`)) }, 60_000)
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const url = /registry listening on (\S+)/.exec(out)?.[1]
      const token = /admin token \(shown once, keep it safe\): (\S+)/.exec(out)?.[1]
      if (url === undefined || token === undefined) return
      clearTimeout(timer)
      resolve({ url, adminToken: token, child })
    })
    void exited.then(r => { reject(new Error(`registry exited ${r.code}: ${r.stderr}`)) })
  })
  await wan.expose(cloud, port)
  return ready
}

/** `rok node start` in `cloud`, listening on `cloud.ip:port` (exposed to the other clouds). */
export async function startNodeIn (wan: Wan, cloud: Cloud, home: string, port: number, args: string[] = []): Promise<NsNode> {
  await wan.expose(cloud, port)
  const child = wan.spawn(cloud, process.execPath, [ROK_BIN, 'node', 'start', '--home', home, '--listen', `/ip4/${cloud.ip}/tcp/${port}`, ...args])
  const exited = collect(child)
  let dead: CliResult | undefined
  let stopping = false
  void exited.then(async r => {
    dead = r
    if (process.env.MULTICLOUD_LOGS !== undefined) await import('node:fs/promises').then(async fs => { await fs.writeFile(join(process.env.MULTICLOUD_LOGS!, `${cloud.ns}-${port}.log`), r.stderr) })
    // a node dying under a test is the first thing to know when it then times out
    if (!stopping && r.signal !== 'SIGKILL') console.error(`node ${home} in ${cloud.ns} exited ${r.code ?? r.signal}: ${r.stderr.slice(-4000)}`)
  })
  child.once('exit', (_code, signal) => { if (signal === 'SIGKILL') stopping = true })
  const info = await waitFor(`node in ${cloud.ns}`, async () => {
    if (dead !== undefined) throw new Error(`node exited ${dead.code}: ${dead.stderr}`)
    const i = JSON.parse(await readFile(join(home, 'node.json'), 'utf8')) as { pid: number, peerId: string }
    return i.pid === child.pid ? i : undefined
  }, 60_000)
  const run = async (...a: string[]): Promise<CliResult> => await rokIn(wan, cloud, [...a, '--home', home])
  const api = JSON.parse(await readFile(join(home, 'node.json'), 'utf8')).api as string
  const token = (await readFile(join(home, 'api-token'), 'utf8')).trim()
  return {
    cloud,
    home,
    peerId: info.peerId,
    addr: `/ip4/${cloud.ip}/tcp/${port}/p2p/${info.peerId}`,
    child,
    exited,
    run,
    rok: async (...a) => await rokJsonIn(wan, cloud, [...a, '--home', home]),
    status: async () => {
      const r = await wan.run(cloud, 'curl', ['-sf', '-m', '10', '-H', `authorization: Bearer ${token}`, `${api}/v1/sync/status`])
      if (r.code !== 0) throw new Error(`status of ${home}: curl exited ${r.code}: ${r.stderr}`)
      return JSON.parse(r.stdout)
    }
  }
}

/** Wait until `node` is at `seq` of `bucket` with that sync's report, failing at once if the node dies. */
export async function synced (node: NsNode, bucket: string, seq: number, ms = 180_000): Promise<any> {
  const died = node.exited.then((r) => { throw new Error(`node ${node.home} exited ${r.code ?? r.signal} while syncing: ${r.stderr.slice(-2000)}`) })
  return await Promise.race([died, waitFor(`${node.home} at ${bucket}@${seq}`, async () => {
    const s = await subscription(node, bucket)
    // the head moves just before the report: wait for both
    if (s?.localHead === seq && s.last?.toSeq === seq) return s.last
    // poll about twice a second: the nodes need the CPU more than the test does
    await new Promise(resolve => setTimeout(resolve, 400))
    return undefined
  }, ms)])
}

/** The node's subscription to `bucket` as `rok status --json` shows it. */
export async function subscription (node: NsNode, bucket: string): Promise<any> {
  const status = await node.status()
  return status.subscriptions.find((s: any) => s.bucket === bucket)
}
