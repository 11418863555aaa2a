import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { openEngine } from '../../node/engine.ts'
import { collect, rokJson, spawnRok } from '../fixtures/cli.ts'
import { tempDir } from '../fixtures/seeded.ts'

test('a command run while another process briefly holds the home (a daemon still starting) waits for it instead of failing with ERR_HOME_LOCKED', async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  try {
    await rokJson(['init', '--home', home])
    const friend = await rokJson(['init', '--home', join(dir, 'friend')])
    const holder = await openEngine({ home })
    const allow = collect(spawnRok(['allow', 'acme/sample', friend.peerId, '--home', home, '--json']))
    await sleep(1500)
    await holder.close()
    const r = await allow
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(JSON.parse(r.stdout).peers, [friend.peerId])
  } finally {
    await cleanup()
  }
})
