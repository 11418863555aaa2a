/** `rok node start --max-upload-rate`: validated at the command line, shown by `rok status`. */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { join } from 'node:path'
import { tempDir } from '../fixtures/seeded.ts'
import { initHome, runRok, startDaemon, type Daemon } from '../sync/daemons.ts'

describe('rok node start --max-upload-rate', { timeout: 120_000 }, () => {
  let home: string
  let cleanup: () => Promise<void>
  let node: Daemon | undefined

  before(async () => {
    let dir: string
    [dir, cleanup] = await tempDir('rok-upload-cap-')
    home = join(dir, 'a')
    await initHome(home)
  })

  after(async () => {
    await node?.kill()
    await cleanup()
  })

  it('refuses a rate with an unknown unit, naming it and showing the forms it takes', async () => {
    for (const bad of ['50Mbit', 'fast', '0', '-5MB/s']) {
      const r = await runRok(['node', 'start', '--home', home, `--max-upload-rate=${bad}`])
      assert.notEqual(r.code, 0)
      assert.match(r.stderr, new RegExp(`'${bad}' is not a rate: use e\\.g\\. 50MB`))
    }
    const slow = await runRok(['node', 'start', '--home', home, '--max-upload-rate', '100KB/s'])
    assert.notEqual(slow.code, 0)
    assert.match(slow.stderr, /--max-upload-rate 100KB\/s is below 256KiB\/s/)
  })

  it('caps the node and says so in rok status', async () => {
    node = await startDaemon(home, ['--max-upload-rate', '50MB/s'])
    const status = await node.rok('status')
    assert.equal(status.served.maxUploadRate, 50_000_000)
    const human = await runRok(['status', '--home', home])
    assert.equal(human.code, 0, human.stderr)
    assert.match(human.stdout, /uploads capped at 47\.7 MiB\/s/)
  })
})
