import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rokJson, runRok } from '../fixtures/cli.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

function tryMountTmpfs (path: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', path], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

test('a full disk gives a clear error, records nothing, and leaves the store consistent', async (t) => {
  const [dir, cleanup] = await tempDir()
  const mnt = join(dir, 'small-disk')
  await mkdir(mnt)
  if (!tryMountTmpfs(mnt, '24m')) {
    await cleanup()
    t.skip('needs permission to mount a small tmpfs (run as root, as CI does)')
    return
  }
  try {
    const home = join(mnt, 'home')
    const h = ['--home', home]
    await rokJson(['init', ...h])
    await mkdir(join(dir, 'small'))
    await writeFile(join(dir, 'small', 'a.bin'), seededBytes(1, 4 * 1024 * 1024))
    await rokJson(['snapshot', join(dir, 'small'), '--bucket', 'disk/full', ...h])
    await mkdir(join(dir, 'big'))
    await writeFile(join(dir, 'big', 'b.bin'), seededBytes(2, 40 * 1024 * 1024))
    const r = await runRok(['snapshot', join(dir, 'big'), '--bucket', 'disk/full', ...h])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /disk full .*free some space/)
    assert.match(r.stderr, /ERR_DISK_FULL/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    const log = await rokJson(['log', 'disk/full', ...h])
    assert.equal(log.length, 1, 'the failed snapshot recorded no version')
    const verify = await rokJson(['verify', ...h])
    assert.equal(verify.ok, true)
    await rokJson(['restore', 'disk/full@1', join(dir, 'restored'), ...h])
  } finally {
    execFileSync('umount', [mnt])
    await cleanup()
  }
})
