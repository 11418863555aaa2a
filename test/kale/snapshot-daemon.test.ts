/**
 * When a Rok node daemon owns the home (and so holds its lock), `kale run` takes its step
 * snapshots through the node's API instead of opening the home itself.
 */
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { collect, rokJson, spawnRok } from '../fixtures/cli.ts'
import { EXAMPLES, kale, tempDir } from './helpers.ts'

describe('kale run with a running Rok node', () => {
  it('snapshots every step through the node API', { timeout: 180_000 }, async () => {
    const [dir, cleanup] = await tempDir()
    const home = join(dir, 'rok-home')
    await rokJson(['init', '--home', home])
    const daemon = spawnRok(['node', 'start', '--home', home])
    const exited = collect(daemon)
    try {
      for (let i = 0; i < 300; i++) {
        if (await readFile(join(home, 'node.json'), 'utf8').then(() => true, () => false)) break
        await new Promise(resolve => setTimeout(resolve, 100))
      }
      const run = await kale(['run', join(EXAMPLES, 'linear.ipynb'), '--snapshot', '--json'], { ROK_HOME: home, KALE_HOME: join(dir, 'kale-home') })
      assert.equal(run.code, 0, run.stderr)
      const versions = await rokJson(['log', 'kale/linear', '--home', home])
      assert.ok(versions.length >= 2, `${versions.length} step snapshots recorded through the node`)
    } finally {
      daemon.kill('SIGTERM')
      await exited
      await cleanup()
    }
  })
})
