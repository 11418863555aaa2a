import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { initHome, startDaemon, waitFor, runRok } from '../sync/daemons.ts'
import { rokJson } from '../fixtures/cli.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

test('the daemon takes a schedule missed while it was down once at start, with the policy globs; policy, forget, pin and gc work through it', { timeout: 120_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  const src = join(dir, 'src')
  await mkdir(join(src, 'cache'), { recursive: true })
  await writeFile(join(src, 'model.bin'), seededBytes(1, 200_000))
  await writeFile(join(src, 'notes.tmp'), 'scratch')
  await writeFile(join(src, 'cache', 'big.bin'), seededBytes(2, 100_000))
  let daemon
  try {
    await initHome(home)
    // without a daemon the CLI works on the home directly
    const bad = await runRok(['policy', 'set', 'acme/sched', '--schedule', '0 3 * * 9', '--path', src, ...h])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /day-of-week field "9" has 9, out of range 0-7/)
    const set = await rokJson(['policy', 'set', 'acme/sched', '--schedule', '0 3 * * *', '--path', src, '--exclude', '*.tmp', '--exclude', 'cache', '--keep-last', '2', ...h])
    assert.equal(set.schedule, '0 3 * * *')
    assert.deepEqual(set.retention, { keepLast: 2 })
    // ten daily firings missed
    execFileSync(process.execPath, [fileURLToPath(new URL('./set-last-run.ts', import.meta.url)), home, 'acme/sched', new Date(Date.now() - 10 * 86_400_000).toISOString()])

    daemon = await startDaemon(home)
    const d = daemon
    const versions = await waitFor('the missed run', async () => { const v = await d.api.versions('acme/sched').catch(() => []); return v.length > 0 ? v : undefined })
    await new Promise(resolve => setTimeout(resolve, 1500))
    assert.equal((await d.api.versions('acme/sched')).length, 1, 'taken once, not once per missed firing')
    assert.match(versions[0].message, /scheduled/)
    await rokJson(['restore', 'acme/sched@1', join(dir, 'out'), ...h])
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['model.bin'], 'exclude globs applied')
    const shown = await rokJson(['policy', 'show', 'acme/sched', ...h])
    assert.ok(Date.parse(shown.lastRun) > Date.now() - 60_000)
    assert.ok(Date.parse(shown.nextRun) > Date.now())

    // by hand through the daemon: more versions, a pin, retention, gc
    for (let i = 0; i < 3; i++) {
      await writeFile(join(src, 'model.bin'), seededBytes(10 + i, 200_000))
      await rokJson(['snapshot', src, '--bucket', 'acme/sched', ...h])
    }
    await rokJson(['pin', 'acme/sched@2', ...h])
    const unknown = await runRok(['pin', 'acme/sched@99', ...h])
    assert.notEqual(unknown.code, 0)
    assert.match(unknown.stderr, /version acme\/sched@99 not found/)
    const dry = await rokJson(['forget', 'acme/sched', '--dry-run', ...h])
    assert.equal(dry.rulesFrom, 'policy')
    assert.deepEqual(dry.versions.map((v: { seq: number, keep: boolean }) => [v.seq, v.keep]), [[4, true], [3, true], [2, true], [1, false]])
    assert.deepEqual(dry.versions[2].reasons, ['pinned'])
    const done = await rokJson(['forget', 'acme/sched', ...h])
    assert.equal(done.forgotten, 1)
    assert.deepEqual((await d.api.versions('acme/sched')).map(v => v.seq), [4, 3, 2])
    const gc = await rokJson(['gc', '--grace', '0', ...h])
    assert.ok(gc.sweptBlocks > 0, 'the forgotten version\'s own chunks are reclaimed')
    const verify = await rokJson(['verify', ...h])
    assert.equal(verify.ok, true)
    const removed = await rokJson(['policy', 'remove', 'acme/sched', ...h])
    assert.equal(removed.removed, true)
    const none = await runRok(['policy', 'show', 'acme/sched', ...h])
    assert.match(none.stderr, /has no policy/)
  } finally {
    await daemon?.stop()
    await cleanup()
  }
})
