/**
 * A bucket's sharing policy against a real registry: when the daemon publishes on the
 * bucket's schedule, the registry records the version and the policy's group gets read
 * access, so its members find the bucket; before, they could not.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initHome, startDaemon, waitFor } from '../sync/daemons.ts'
import { rokJson } from '../fixtures/cli.ts'
import { startRegistry } from '../fixtures/registry.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('a scheduled publish shares the bucket with the policy’s groups through the registry', { timeout: 180_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const reg = await startRegistry(join(dir, 'registry'))
  const node = join(dir, 'node')
  const admin = ['--home', join(dir, 'admin')]
  const bob = ['--home', join(dir, 'bob')]
  let daemon
  try {
    await rokJson(['login', reg.url, '--token', reg.adminToken, ...admin])
    const alice = await rokJson(['user', 'create', 'alice', ...admin])
    const bobUser = await rokJson(['user', 'create', 'bob', ...admin])
    await rokJson(['login', reg.url, '--token', bobUser.token, ...bob])
    await initHome(node)
    await rokJson(['login', reg.url, '--token', alice.token, '--home', node])
    await rokJson(['group', 'create', 'acme', '--home', node])
    await rokJson(['group', 'create', 'readers', '--home', node])
    await rokJson(['group', 'add', 'readers', 'bob', '--home', node])
    await rokJson(['bucket', 'create', 'acme/models', '--description', 'nightly models', '--home', node])
    assert.deepEqual((await rokJson(['search', 'nightly', ...bob])).results, [], 'bob is not in acme: he cannot see it yet')

    const src = join(dir, 'src')
    await mkdir(src, { recursive: true })
    await writeFile(join(src, 'model.bin'), seededBytes(1, 100_000))
    await rokJson(['policy', 'set', 'acme/models', '--schedule', '0 2 * * *', '--path', src, '--publish', '--share-with', 'readers', '--home', node])
    // the nightly run was missed while the node was down: the daemon takes it at start
    execFileSync(process.execPath, [fileURLToPath(new URL('./set-last-run.ts', import.meta.url)), node, 'acme/models', new Date(Date.now() - 2 * 86_400_000).toISOString()])
    daemon = await startDaemon(node)

    const found = await waitFor('bob to find the shared bucket', async () => {
      const r = await rokJson(['search', 'nightly', ...bob])
      return r.results.length > 0 ? r.results : undefined
    })
    assert.equal(found[0].bucket, 'acme/models')
    const shown = await rokJson(['bucket', 'show', 'acme/models', ...bob])
    assert.equal(shown.latestSeq, 1, 'the scheduled publish was recorded in the registry')
  } finally {
    await daemon?.stop()
    await reg.stop()
    await cleanup()
  }
})
