import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile, appendFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rokJson, runRok } from '../fixtures/cli.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { tempDir, writeSampleTree } from '../fixtures/seeded.ts'

test('a user can init, snapshot twice, list, diff, restore, verify, gc and see stats from the CLI', async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  try {
    const init = await rokJson(['init', ...h])
    assert.match(init.peerId, /^12D3KooW/)
    const src = join(dir, 'data')
    await writeSampleTree(src, { seed: 5, files: 200, maxFileSize: 500_000 })
    const v1 = await rokJson(['snapshot', src, '--bucket', 'acme/sample', '-m', 'first', ...h])
    assert.equal(v1.seq, 1)
    assert.ok(v1.newBytes > 0 && v1.newBytes <= v1.size)
    await appendFile(join(src, 'd0', 'new-file.txt'), 'brand new\n')
    const v2 = await rokJson(['snapshot', src, '--bucket', 'acme/sample', '-m', 'second', ...h])
    assert.equal(v2.seq, 2)
    assert.ok(v2.newBytes < 1000, `v2 stored ${v2.newBytes} new bytes for one small new file`)

    const log = await rokJson(['log', 'acme/sample', ...h])
    assert.deepEqual(log.map((v: { seq: number, message: string }) => [v.seq, v.message]), [[2, 'second'], [1, 'first']])
    const diff = await rokJson(['diff', 'acme/sample@1', 'acme/sample@2', ...h])
    assert.deepEqual(diff.changes.map((c: { kind: string, path: string }) => `${c.kind} ${c.path}`), ['added d0/new-file.txt'])

    const human = await runRok(['diff', 'acme/sample@1', 'acme/sample@2', ...h])
    assert.match(human.stdout, /\+ d0\/new-file\.txt/)

    await rokJson(['restore', 'acme/sample@2', join(dir, 'r2'), ...h])
    assert.deepEqual(await compareTrees(src, join(dir, 'r2')), [])
    const verify = await rokJson(['verify', ...h])
    assert.equal(verify.ok, true)
    const gc = await rokJson(['gc', '--dry-run', ...h])
    assert.equal(gc.deadBlocks, 0)
    const stats = await rokJson(['stats', ...h])
    assert.equal(stats.versions, 2)
    assert.ok(stats.dedupRatio > 1.9, `dedup ratio ${stats.dedupRatio}`)
  } finally {
    await cleanup()
  }
})

test('mistakes get one clear line on stderr and a non-zero exit code', async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  try {
    let r = await runRok(['log', '--home', home])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /no Rok home .*rok init/)
    assert.equal(r.stderr.trim().split('\n').length, 1)

    await runRok(['init', '--home', home])
    r = await runRok(['snapshot', dir, '--home', home])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /--bucket/)
    r = await runRok(['snapshot', dir, '--bucket', 'Not A Bucket', '--home', home])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /not a bucket name.*group\/name/)
    r = await runRok(['snapshot', join(dir, 'missing'), '--bucket', 'a/b', '--home', home])
    assert.match(r.stderr, /missing does not exist/)
    r = await runRok(['restore', 'a/b@7', join(dir, 'x'), '--home', home])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /a\/b/)
    r = await runRok(['restore', 'a/b@zero', join(dir, 'x'), '--home', home])
    assert.match(r.stderr, /not a version number/)
    r = await runRok(['frobnicate'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /unknown command 'frobnicate'/)
    r = await runRok(['gc', '--no-such-flag', '--home', home])
    assert.equal(r.code, 2)
    r = await runRok(['log', '--json', '--home', join(dir, 'nowhere')])
    assert.equal(JSON.parse(r.stdout).error.code, 'ERR_NO_HOME')

    await mkdir(join(dir, 'dest'))
    await writeFile(join(dir, 'dest', 'keep'), 'x')
    await mkdir(join(dir, 'src'))
    await rokJson(['snapshot', join(dir, 'src'), '--bucket', 'a/b', '--home', home])
    r = await runRok(['restore', 'a/b', join(dir, 'dest'), '--home', home])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /--force/)
  } finally {
    await cleanup()
  }
})

test('every command has --help that names its usage', async () => {
  const top = await runRok(['--help'])
  assert.equal(top.code, 0)
  for (const verb of ['init', 'snapshot', 'log', 'restore', 'diff', 'verify', 'gc', 'stats']) {
    assert.match(top.stdout, new RegExp(`\\n  ${verb} `))
    const r = await runRok([verb, '--help'])
    assert.equal(r.code, 0, verb)
    assert.match(r.stdout, new RegExp(`Usage: rok ${verb}`))
  }
})
