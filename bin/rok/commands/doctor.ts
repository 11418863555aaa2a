/**
 * `rok doctor`: checks a node home from the outside, the way a support engineer would —
 * the home and its key, the daemon (running? answering? its token?), the registry
 * (reachable? credentials accepted? key as pinned?), the peers of every subscription
 * (dialled through the daemon) and the object-storage tier when one is configured. Each
 * problem comes with what to do about it. Exit 1 when any check fails; warnings alone
 * exit 0.
 *
 * The checks never change the home: no key is created, no credentials are saved.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command, CommandContext } from '../../cli/command.ts'
import { NodeApiClient } from '../../../node/api/client.ts'
import { readApiToken, readDaemonInfo, type DaemonInfo } from '../../../node/daemon-file.ts'
import { ensureHome } from '../../../node/home.ts'
import { IDENTITY_FILE } from '../../../node/identity.ts'
import { loadPinnedKey } from '../../../node/registry/pin.ts'
import { loadCredentials } from '../../../registry/credentials.ts'
import { isRokError } from '../../../protocol/errors.ts'
import type { SyncStatus } from '../../../protocol/node-api.ts'

export type CheckState = 'ok' | 'warn' | 'fail' | 'skip'

export interface Check {
  /** What was checked: home, key, daemon, registry, peer, tier. */
  name: string
  state: CheckState
  /** What was found, in one line. */
  message: string
  /** What to do about it (for warn and fail). */
  fix?: string
}

export interface DoctorReport {
  home: string
  ok: boolean
  checks: Check[]
}

/** Deadline for each network probe, so a silent peer or registry cannot hang the doctor. */
const PROBE_TIMEOUT_MS = 10_000

const ok = (name: string, message: string): Check => ({ name, state: 'ok', message })
const fail = (name: string, message: string, fix: string): Check => ({ name, state: 'fail', message, fix })
const warn = (name: string, message: string, fix: string): Check => ({ name, state: 'warn', message, fix })
const skip = (name: string, message: string): Check => ({ name, state: 'skip', message })

/** The home exists, has a format this rok reads, and holds an Ed25519 key. */
async function checkHome (home: string): Promise<Check[]> {
  try {
    await ensureHome(home, false)
  } catch (err) {
    const code = isRokError(err) ? err.code : 'ERR_NO_HOME'
    const fix = code === 'ERR_NO_HOME' ? `create it with 'rok init --home ${home}', or point --home / ROK_HOME at the right folder` : 'use the rok version that created this home, or a new home'
    return [fail('home', `${(err as Error).message} [${code}]`, fix)]
  }
  const checks = [ok('home', `${home}`)]
  try {
    const { privateKeyFromProtobuf } = await import('@libp2p/crypto/keys')
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const key = privateKeyFromProtobuf(await readFile(join(home, IDENTITY_FILE)))
    if (key.type !== 'Ed25519') checks.push(fail('key', `${IDENTITY_FILE} holds a ${key.type} key; a node key is Ed25519`, 'restore the home\'s original identity.key from a backup, or start a new home with rok init'))
    else checks.push(ok('key', `peer ID ${peerIdFromPrivateKey(key).toString()}`))
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT'
    checks.push(missing
      ? warn('key', `no ${IDENTITY_FILE} yet`, `it is created on first use; run 'rok init --home ${home}' to create it now`)
      : fail('key', `${join(home, IDENTITY_FILE)} is not a libp2p private key`, 'restore it from a backup; a new key is a new peer ID that publishers and the registry do not know'))
  }
  return checks
}

/** node.json names a live process whose API answers with this home's token. */
async function checkDaemon (home: string): Promise<{ check: Check, client?: NodeApiClient, info?: DaemonInfo }> {
  const start = `start it with 'rok node start --home ${home}' (in another terminal or as a service)`
  const info = await readDaemonInfo(home)
  if (info === undefined) return { check: fail('daemon', 'the node is not running (no node.json in the home)', start) }
  let alive = true
  try { process.kill(info.pid, 0) } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM' }
  if (!alive) return { check: fail('daemon', `the node is not running: node.json is left from process ${info.pid}, which has exited (a crash or kill -9)`, start) }
  const token = await readApiToken(home)
  if (token === undefined) return { check: fail('daemon', `process ${info.pid} runs, but the home has no api-token to talk to it`, 'stop the node and start it again: it writes a new token') }
  const client = new NodeApiClient({ url: info.api, token, timeoutMs: PROBE_TIMEOUT_MS })
  if (!await client.health(AbortSignal.timeout(PROBE_TIMEOUT_MS))) {
    return { check: fail('daemon', `process ${info.pid} runs but its API ${info.api} does not answer`, `it may be overloaded or stuck: check its log; restart it with 'rok node start --home ${home}'`) }
  }
  try {
    const status = await client.status()
    return { check: ok('daemon', `running (pid ${info.pid}), API ${info.api}, ${status.connections} connection${status.connections === 1 ? '' : 's'}, up ${Math.round(status.uptimeSeconds)} s`), client, info }
  } catch (err) {
    if (isRokError(err, 'ERR_UNAUTHENTICATED')) return { check: fail('daemon', `the node at ${info.api} refuses this home's api-token`, 'another home\'s node may be using this address: restart the node of this home') }
    return { check: fail('daemon', `the node at ${info.api} answered with an error: ${(err as Error).message}`, 'check its log; restart it if it persists') }
  }
}

/** Saved credentials work against a reachable registry whose key is the pinned one; the daemon's link to it. */
async function checkRegistry (home: string, status: SyncStatus | undefined): Promise<Check[]> {
  let creds
  try {
    creds = await loadCredentials(home)
  } catch (err) {
    return [fail('registry', (err as Error).message, "run 'rok login URL --token T' again")]
  }
  if (creds === null) return [skip('registry', "no registry configured (fine for a node that shares by allow list); 'rok login URL --token T' to use one")]
  const { createRegistryClient } = await import('../../../registry/client.ts')
  const client = createRegistryClient({ url: creds.url, token: creds.token, timeoutMs: PROBE_TIMEOUT_MS })
  const checks: Check[] = []
  try {
    const me = await client.whoami()
    checks.push(ok('registry', `${client.url} answers; logged in as ${me.user}`))
    const pinned = await loadPinnedKey(home)
    if (pinned !== undefined) {
      const key = await client.publicKey()
      if (!pinned.key.equals(key)) {
        checks.push(fail('registry', `${client.url} signs with another key than the one pinned in registry-key.json: grants from it are refused`, 'if the registry was replaced on purpose, remove registry-key.json from the home and restart the node; otherwise you may be talking to the wrong server'))
      }
    }
  } catch (err) {
    if (isRokError(err, 'ERR_REGISTRY_UNAVAILABLE')) {
      checks.push(fail('registry', `${client.url} is unreachable`, `start the registry ('rok registry start') or fix the URL with 'rok login URL --token T --home ${home}'; meanwhile syncing, serving and restoring go on, ACL changes and new subscriptions wait`))
    } else if (isRokError(err, 'ERR_UNAUTHENTICATED')) {
      checks.push(fail('registry', `${client.url} refuses the saved token of user ${creds.user} (revoked or from another registry)`, `ask an admin for a new token ('rok user create' or your own 'rok user tokens') and run 'rok login ${client.url} --token T --home ${home}'`))
    } else {
      checks.push(fail('registry', `${client.url}: ${(err as Error).message}${isRokError(err) ? ` [${err.code}]` : ''}`, 'check the URL saved by rok login'))
    }
  }
  const link = status?.registry
  if (link !== undefined) {
    if (link.url.replace(/\/$/, '') !== client.url) {
      checks.push(warn('registry', `the running node uses ${link.url}, but the home is logged in to ${client.url}`, 'restart the node to use the saved registry'))
    } else if (!link.registered) {
      checks.push(warn('registry', `the node has not registered with the registry yet${link.error !== undefined ? `: ${link.error.message} [${link.error.code}]` : ''}`, 'it retries by itself; new subscriptions through the registry wait until it has'))
    }
    if (link.outbox.pending > 0) {
      checks.push(warn('registry', `${link.outbox.pending} version reference${link.outbox.pending === 1 ? '' : 's'} wait for the registry${link.outbox.lastError !== undefined ? ` (last error: ${link.outbox.lastError.message})` : ''}`, 'they are delivered in order when the registry answers; nothing to do unless it stays down'))
    }
    for (const g of link.grants) {
      if (g.error !== undefined) checks.push(warn('registry', `grant for ${g.bucket} could not be renewed: ${g.error.message} [${g.error.code}]`, `it lapses at ${g.expires}; check your access to ${g.bucket} ('rok bucket show ${g.bucket}')`))
    }
  } else if (status !== undefined) {
    checks.push(warn('registry', 'the home is logged in, but the running node was started without a registry', `restart it ('rok node start --home ${home}') to register, record published versions and subscribe through the registry`))
  }
  return checks
}

/** Every subscription's publisher, dialled and pinged through the daemon (its network, its keys). */
async function checkPeers (client: NodeApiClient, status: SyncStatus, signal: AbortSignal): Promise<Check[]> {
  if (status.subscriptions.length === 0) return [skip('peers', 'no subscriptions to check')]
  const byPeer = new Map<string, { addr: string, buckets: string[] }>()
  for (const s of status.subscriptions) {
    const e = byPeer.get(s.publisher) ?? { addr: s.addr, buckets: [] }
    e.buckets.push(s.bucket)
    byPeer.set(s.publisher, e)
  }
  const checks = await Promise.all([...byPeer].map(async ([peer, { addr, buckets }]): Promise<Check> => {
    const what = `publisher of ${buckets.join(', ')}`
    const r = await client.ping(addr !== '' ? addr : peer, signal)
    if (r.reachable) return ok('peers', `${peer} (${what}) answers in ${(r.rttMs ?? 0).toFixed(0)} ms`)
    return fail('peers', `${peer} (${what}) is unreachable at ${addr}: ${r.error?.message ?? 'no answer'}`,
      'new versions still come from fellow subscribers that hold them; check that the publisher runs (\'rok doctor\' there) and that its address is reachable from here')
  }))
  for (const s of status.subscriptions) {
    if (s.state === 'error' && s.error !== undefined) checks.push(fail('peers', `${s.bucket}: the last sync failed: ${s.error.message} [${s.error.code}]`, `'rok sync ${s.bucket}' retries now and shows who served what; see docs/ERRORS.md for the code`))
  }
  return checks
}

/**
 * The object-storage tier, when one is configured: the bucket answers to this process's
 * credentials (the standard AWS chain, as the node reads it) and holds the tier marker.
 */
async function checkTier (home: string, signal: AbortSignal, daemon: NodeApiClient | undefined): Promise<Check[]> {
  const { readTierConfig, backendFor, describeTier, TierErrorCode } = await import('../../../node/tier/index.ts')
  const { MARKER_KEY } = await import('../../../node/tier/keys.ts')
  let config
  try {
    config = await readTierConfig(home)
  } catch (err) {
    return [fail('tier', `${(err as Error).message}`, "run 'rok tier set --endpoint URL --bucket NAME' again")]
  }
  if (config === undefined) return [skip('tier', "no object-storage tier configured ('rok tier set' keeps versions in S3 as well)")]
  const where = describeTier(config)
  const backend = await backendFor({ ...config, attempts: 2 })
  const probe = { signal: AbortSignal.any([signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]) }
  try {
    await backend.check(probe)
    if (await backend.head(MARKER_KEY, probe) === undefined) {
      return [fail('tier', `${where} answers but holds no ${MARKER_KEY}: the prefix was emptied or the settings point elsewhere`, "run 'rok tier set' with the right --bucket and --prefix (it writes the marker), then 'rok tier push'")]
    }
  } catch (err) {
    const code = isRokError(err) ? err.code : ''
    const fix = code === TierErrorCode.ACCESS_DENIED
      ? 'give the node (and this shell) working keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or AWS_PROFILE'
      : code === TierErrorCode.NO_SUCH_BUCKET
        ? "create the bucket in the object store, or point the tier at another one with 'rok tier set --bucket NAME'"
        : "start the object store or fix the endpoint with 'rok tier set --endpoint URL'; versions stay on the node meanwhile and are pushed when it answers"
    const message = (err as Error).message
    return [fail('tier', `${message.includes(backend.location) ? '' : `${where}: `}${message}${code !== '' ? ` [${code}]` : ''}`, fix)]
  }
  const checks = [ok('tier', `${where}: reachable, credentials accepted`)]
  // the running node pushes each version within seconds; what it has not pushed is worth a look
  const status = daemon === undefined ? undefined : await daemon.tierStatus().catch(() => undefined)
  if (status !== undefined && status.unpushedVersions.length > 0) {
    checks.push(warn('tier', `${status.unpushedVersions.length} version${status.unpushedVersions.length === 1 ? '' : 's'} not in the object store yet: ${status.unpushedVersions.slice(0, 5).join(', ')}${status.unpushedVersions.length > 5 ? ', …' : ''}`,
      "the node pushes new versions within seconds; if they stay, 'rok tier push' pushes now and shows what fails"))
  }
  return checks
}

export async function diagnose (home: string, signal: AbortSignal): Promise<DoctorReport> {
  const checks = await checkHome(home)
  if (checks.some(c => c.name === 'home' && c.state === 'fail')) return { home, ok: false, checks }
  const daemon = await checkDaemon(home)
  checks.push(daemon.check)
  let status: SyncStatus | undefined
  if (daemon.client !== undefined) {
    try { status = await daemon.client.syncStatus() } catch (err) {
      checks.push(fail('daemon', `the node's sync status failed: ${(err as Error).message}`, 'check its log'))
    }
  }
  checks.push(...await checkRegistry(home, status))
  if (daemon.client !== undefined && status !== undefined) checks.push(...await checkPeers(daemon.client, status, signal))
  else checks.push(skip('peers', 'not checked: the node is not running'))
  checks.push(...await checkTier(home, signal, daemon.client))
  return { home, ok: !checks.some(c => c.state === 'fail'), checks }
}

const MARK: Record<CheckState, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL', skip: '-   ' }

export const doctor: Command = {
  name: 'doctor',
  summary: "check this node's home, daemon, registry, peers and object store; say how to fix what is wrong",
  usage: 'doctor',
  description: `Checks, without changing anything: the home and its key; whether the node daemon runs
and answers; whether the registry saved by 'rok login' is reachable and accepts the token
(and signs with the key pinned in the home); whether the publishers of this node's
subscriptions answer when the node dials them; whether the object-storage tier ('rok tier
set') answers with the credentials in this environment. Each problem is printed with
what to do.
Exits 1 when a check fails (warnings alone exit 0).

Example:
  rok doctor --home /var/lib/rok`,
  positionals: 0,
  async run (ctx: CommandContext) {
    const report = await diagnose(ctx.home, ctx.signal)
    ctx.out.result(report, (r: DoctorReport) => {
      for (const c of r.checks) {
        ctx.out.line(`${MARK[c.state]}  ${c.name.padEnd(8)} ${c.message}`)
        if (c.fix !== undefined && (c.state === 'fail' || c.state === 'warn')) ctx.out.line(`      ${''.padEnd(8)} fix: ${c.fix}`)
      }
      const problems = r.checks.filter(c => c.state === 'fail').length
      const warnings = r.checks.filter(c => c.state === 'warn').length
      ctx.out.line(problems === 0 ? `no problems found${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}` : `${problems} problem${problems === 1 ? '' : 's'} found`)
    })
    if (!report.ok) return 1
  }
}
