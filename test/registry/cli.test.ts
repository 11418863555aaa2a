/** The registry verbs end to end: the real `rok` binary (pinned Node 24) as child processes. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rokJson, runRok } from '../fixtures/cli.ts'
import { startRegistry } from '../fixtures/registry.ts'

test('an admin and two users run the registry from the CLI: login, groups, buckets, rules and search', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rok-registry-cli-'))
  const regHome = join(dir, 'registry-home')
  const adminHome = ['--home', join(dir, 'admin')]
  const aliceHome = ['--home', join(dir, 'alice')]
  const bobHome = ['--home', join(dir, 'bob')]
  const reg = await startRegistry(regHome)
  try {
    const login = await rokJson(['login', reg.url, '--token', reg.adminToken, ...adminHome])
    assert.equal(login.user, 'admin')
    const saved = await stat(join(dir, 'admin', 'registry.json'))
    assert.equal(saved.mode & 0o777, 0o600, 'credentials are readable only by their owner')

    const alice = await rokJson(['user', 'create', 'alice', ...adminHome])
    const bob = await rokJson(['user', 'create', 'bob', ...adminHome])
    await rokJson(['login', reg.url, '--token', alice.token, ...aliceHome])
    await rokJson(['login', reg.url, '--token', bob.token, ...bobHome])

    const group = await rokJson(['group', 'create', 'acme', '--description', 'Acme ML', ...aliceHome])
    assert.deepEqual(group.members, [{ user: 'alice', role: 'owner' }])
    const bucket = await rokJson(['bucket', 'create', 'acme/imagenet-small', '--description', 'ImageNet subset', '--tag', 'vision', '--tag', 'images', ...aliceHome])
    assert.equal(bucket.visibility, 'private')
    assert.deepEqual(bucket.tags, ['vision', 'images'])

    // Bob is not a member: the private bucket does not exist for him.
    assert.deepEqual((await rokJson(['search', 'imagenet', ...bobHome])).results, [])
    const hidden = await runRok(['bucket', 'show', 'acme/imagenet-small', ...bobHome])
    assert.equal(hidden.code, 1)
    assert.match(hidden.stderr, /bucket acme\/imagenet-small not found \[ERR_NOT_FOUND\]/)

    await rokJson(['group', 'add', 'acme', 'bob', '--role', 'reader', ...aliceHome])
    const found = await runRok(['search', 'imagenet', '--group', 'acme', ...bobHome])
    assert.equal(found.code, 0)
    assert.match(found.stdout, /acme\/imagenet-small/)
    const shown = await rokJson(['bucket', 'show', 'acme/imagenet-small', ...bobHome])
    assert.equal(shown.latestSeq, 0)

    const rules = await rokJson(['bucket', 'grant', 'acme/imagenet-small', '--user', 'bob', '--deny', ...aliceHome])
    assert.deepEqual(rules, [{ subject: 'user:bob', right: 'read', effect: 'deny' }])
    assert.deepEqual((await rokJson(['search', 'imagenet', ...bobHome])).results, [], 'deny wins over his reader role')
    assert.deepEqual(await rokJson(['bucket', 'revoke', 'acme/imagenet-small', '--user', 'bob', '--deny', ...aliceHome]), [])
    const removed = await rokJson(['group', 'remove', 'acme', 'bob', ...aliceHome])
    assert.equal(removed.members.length, 1)
    const shownGroup = await runRok(['group', 'show', 'acme', ...aliceHome])
    assert.match(shownGroup.stdout, /alice {2}owner/)

    // Opening the group and then the bucket makes it findable by anyone.
    const opened = await rokJson(['group', 'update', 'acme', '--public', '--description', 'Acme ML, open', ...aliceHome])
    assert.equal(opened.visibility, 'public')
    assert.deepEqual((await rokJson(['search', 'imagenet', ...bobHome])).results, [], 'opening a group exposes no bucket by itself')
    const openBucket = await rokJson(['bucket', 'update', 'acme/imagenet-small', '--public', ...aliceHome])
    assert.equal(openBucket.visibility, 'public')
    assert.equal((await rokJson(['search', 'imagenet', ...bobHome])).results.length, 1)
    const closedAgain = await rokJson(['group', 'update', 'acme', '--private', ...aliceHome])
    assert.equal(closedAgain.visibility, 'private')
    assert.deepEqual((await rokJson(['search', 'imagenet', ...bobHome])).results, [], 'closing the group hides its buckets again')
    assert.equal((await runRok(['group', 'update', 'acme', ...aliceHome])).code, 2, 'nothing to change is a usage error')

    // Usage and registry errors are one line with a code, and --json carries the code.
    const noRole = await runRok(['group', 'add', 'acme', 'bob', '--role', 'boss', ...aliceHome])
    assert.equal(noRole.code, 2)
    const denied = await runRok(['user', 'create', 'carol', '--json', ...aliceHome])
    assert.equal(denied.code, 1)
    assert.equal(JSON.parse(denied.stdout).error.code, 'ERR_FORBIDDEN')
    const badName = await runRok(['bucket', 'create', 'Acme/../x', ...aliceHome])
    assert.match(badName.stderr, /ERR_INVALID_BUCKET_NAME/)
    const help = await runRok(['bucket', 'grant', '--help'])
    assert.match(help.stdout, /--deny/)
  } finally {
    const stopped = await reg.stop()
    assert.equal(stopped.code, 0, `registry exit: ${stopped.stderr}`)
    await rm(dir, { recursive: true, force: true })
  }
})

test('rok login refuses a wrong token and saves nothing; registry verbs explain how to log in', { timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rok-registry-cli-'))
  const reg = await startRegistry(join(dir, 'reg'))
  try {
    const bad = await runRok(['login', reg.url, '--token', 'wrong-token-123456', '--home', join(dir, 'u')])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /ERR_UNAUTHENTICATED/)
    await assert.rejects(stat(join(dir, 'u', 'registry.json')))
    const none = await runRok(['group', 'create', 'g', '--home', join(dir, 'u')])
    assert.match(none.stderr, /rok login URL --token T/)
    const down = await runRok(['search', 'x', '--registry', 'http://127.0.0.1:9', '--home', join(dir, 'u')])
    assert.match(down.stderr, /ERR_REGISTRY_UNAVAILABLE/)
  } finally {
    await reg.stop()
    await rm(dir, { recursive: true, force: true })
  }
})
