/**
 * The errors a user meets on the four journeys, made for real against a registry and node
 * daemons: each prints exactly one line on stderr (`rok VERB: what is wrong … [CODE]`),
 * exits with a non-zero code, and `--json` carries the same code; `--verbose` adds the
 * details, the chain of causes and a stack. Plus the printer itself, on errors the CLI
 * cannot provoke on purpose (a bug without a code, a multi-line message).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../fixtures/seeded.ts'
import { runRok } from '../fixtures/cli.ts'
import { waitFor } from '../sync/daemons.ts'
import { startCluster, type TestCluster } from './cluster.ts'
import type { NodeHandle, Service } from '../../bin/demo/processes.ts'
import { describeError } from '../../bin/cli/output.ts'
import { exitCodeFor, UsageError } from '../../bin/cli/run.ts'
import { RokError } from '../../protocol/errors.ts'

/** Run a verb that must fail; check the one-line contract and return the line. */
async function fails (args: string[], code: string, exit = 1): Promise<string> {
  const r = await runRok(args)
  assert.equal(r.code, exit, `rok ${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`)
  const lines = r.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `one line on stderr, got: ${r.stderr}`)
  assert.match(lines[0], new RegExp(`^rok ${args[0]}(?: \\w+)?: .+ \\[${code}\\]$`))
  const json = await runRok([...args, '--json'])
  assert.equal(json.code, exit)
  assert.equal(JSON.parse(json.stdout).error.code, code)
  return lines[0]
}

describe('errors on the journeys: one clear line and an exit code', { timeout: 300_000 }, () => {
  let dir: string
  let cleanup: () => Promise<void>
  let cluster: TestCluster
  let a: Service & NodeHandle
  const home = (user: string): string[] => ['--home', cluster.homes[user]]

  before(async () => {
    [dir, cleanup] = await tempDir('rok-errors-')
    cluster = await startCluster(dir, ['alice', 'bob'])
    await cluster.as('alice')('group', 'create', 'lab')
    await cluster.as('alice')('bucket', 'create', 'lab/data')
    a = await cluster.startNode('alice')
    await waitFor('registration', async () => (await a.api.syncStatus()).registry?.registered === true ? true : undefined)
    await mkdir(join(dir, 'src'))
    await writeFile(join(dir, 'src', 'f.txt'), 'hello')
    await cluster.as('alice')('publish', join(dir, 'src'), '--bucket', 'lab/data')
  })

  after(async () => {
    await cluster?.run.stopAll()
    await cleanup()
  })

  it('unknown bucket or version: restore and subscribe name it', async () => {
    assert.match(await fails(['restore', 'lab/nope@1', join(dir, 'x'), ...home('alice')], 'ERR_VERSION_NOT_FOUND'), /lab\/nope/)
    assert.match(await fails(['restore', 'lab/data@9', join(dir, 'x'), ...home('alice')], 'ERR_VERSION_NOT_FOUND'), /lab\/data has versions 1\.\.1/)
    assert.match(await fails(['subscribe', 'lab/nope', ...home('alice')], 'ERR_NOT_FOUND'), /bucket lab\/nope not found/)
    assert.match(await fails(['bucket', 'show', 'lab/nope', ...home('alice')], 'ERR_NOT_FOUND'), /^rok bucket show: /)
  })

  it('a bad token: login and search say it is unknown or revoked', async () => {
    assert.match(await fails(['login', cluster.registry.url, '--token', 'rok_not-a-token', ...home('bob')], 'ERR_UNAUTHENTICATED'), /token/)
    await fails(['search', 'data', '--token', 'rok_not-a-token', ...home('bob')], 'ERR_UNAUTHENTICATED')
  })

  it('a verb that needs the node, with no node running, says how to start it', async () => {
    assert.match(await fails(['status', ...home('bob')], 'ERR_NODE_NOT_RUNNING'), /rok node start --home /)
  })

  it('an unreachable publisher: the sync names the address and the refused connection', async () => {
    const b = await cluster.startNode('bob', ['--no-registry'])
    try {
      await cluster.as('bob')('subscribe', 'lab/data', '--peer', `/ip4/127.0.0.1/tcp/1/p2p/${a.peerId}`)
      assert.match(await fails(['sync', 'lab/data', ...home('bob')], 'ERR_NO_HEAD'), /\/ip4\/127\.0\.0\.1\/tcp\/1\/p2p\/.*ECONNREFUSED/)
    } finally {
      await b.stop()
    }
  })

  it('the registry down: registry verbs and new subscriptions say what waits and what goes on; --verbose shows the causes down to the refused connection', async () => {
    await cluster.registry.stop()
    assert.match(await fails(['search', 'data', ...home('alice')], 'ERR_REGISTRY_UNAVAILABLE'), /unreachable: ACL, group and bucket changes wait for it \(nodes keep serving, syncing and restoring meanwhile\)/)
    assert.match(await fails(['subscribe', 'lab/data', ...home('alice')], 'ERR_REGISTRY_UNAVAILABLE'), /new subscriptions wait for the registry/)
    const verbose = await runRok(['search', 'data', '--verbose', ...home('alice')])
    assert.equal(verbose.code, 1)
    const lines = verbose.stderr.trimEnd().split('\n')
    assert.ok(lines.length > 3, verbose.stderr)
    assert.match(lines[0], /\[ERR_REGISTRY_UNAVAILABLE\]$/)
    assert.ok(lines.some(l => /^ {2}caused by: connect ECONNREFUSED 127\.0\.0\.1:\d+ \[ECONNREFUSED\]$/.test(l)), verbose.stderr)
    assert.ok(lines.some(l => /^ {2}at /.test(l)), 'and a stack')
  })
})

describe('the error printer', () => {
  it('an error without a code is a bug: it says so on one line and --verbose shows where', () => {
    const err = new TypeError('cannot read properties of undefined\n  (reading "x")')
    assert.equal(describeError(err, false), 'cannot read properties of undefined (reading "x") [ERR_UNEXPECTED] (--verbose shows where)')
    const verbose = describeError(err, true).split('\n')
    assert.ok(verbose.length > 1 && verbose.slice(1).every(l => l.startsWith('  at ')), verbose.join('\n'))
  })

  it('--verbose prints details and every cause with its code', () => {
    const root = Object.assign(new Error('disk quota exceeded'), { code: 'EDQUOT' })
    const err = new RokError('ERR_DISK_FULL', 'the disk is full', { cause: new Error('write pack', { cause: root }), details: { path: '/x' } })
    assert.equal(describeError(err, false), 'the disk is full [ERR_DISK_FULL]')
    const lines = describeError(err, true).split('\n')
    assert.deepEqual(lines.slice(0, 4), ['the disk is full [ERR_DISK_FULL]', '  details: {"path":"/x"}', '  caused by: Error: write pack', '  caused by: disk quota exceeded [EDQUOT]'])
  })

  it('a common system error says what to do, by its code', () => {
    const err = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:7500'), { code: 'EADDRINUSE' })
    assert.equal(describeError(err, false), 'listen EADDRINUSE: address already in use 127.0.0.1:7500: another process listens there; stop it or choose another address (port 0 picks a free one) [EADDRINUSE]')
  })

  it('exit codes: 2 for usage mistakes, 130 when interrupted, 1 otherwise', () => {
    assert.equal(exitCodeFor(new UsageError('missing --bucket')), 2)
    assert.equal(exitCodeFor(new RokError('ERR_ABORTED', 'interrupted')), 130)
    assert.equal(exitCodeFor(new DOMException('aborted', 'AbortError')), 130)
    assert.equal(exitCodeFor(new RokError('ERR_NOT_FOUND', 'x')), 1)
    assert.equal(exitCodeFor(new Error('x')), 1)
  })
})
