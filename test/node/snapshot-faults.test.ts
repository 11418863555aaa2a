import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { appendFileSync, rmSync } from 'node:fs'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { openEngine } from '../../node/engine.ts'
import { ROK_BIN } from '../fixtures/cli.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

// Files over a MiB are streamed when their turn comes (smaller ones are read ahead in a
// batch), so a change made while the first is read lands before the last is opened.
async function volumeWithLateFile (root: string): Promise<string> {
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'a-first.bin'), seededBytes(1, 2_000_000))
  const late = join(root, 'z-last.bin')
  await writeFile(late, seededBytes(2, 2_000_000))
  return late
}

test('a file that vanishes during a snapshot stops it with the path named, and records nothing', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const late = await volumeWithLateFile(join(dir, 'src'))
    let removed = false
    await assert.rejects(engine.snapshot(join(dir, 'src'), {
      bucket: 'faults/vanish',
      onProgress: p => { if (!removed && p.path?.endsWith('a-first.bin') === true) { removed = true; rmSync(late) } }
    }), (err: { code: string, message: string }) => err.code === 'ERR_CHANGED_DURING_SNAPSHOT' && err.message.includes('z-last.bin') && /vanished/.test(err.message))
    await assert.rejects(engine.buckets.get('faults/vanish'), { code: 'ERR_BUCKET_NOT_FOUND' })
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('a file that grows while it is read stops the snapshot with the path named, and records nothing', async () => {
  const [dir, cleanup] = await tempDir()
  const engine = await openEngine({ home: join(dir, 'home'), create: true })
  try {
    const late = await volumeWithLateFile(join(dir, 'src'))
    let grown = false
    await assert.rejects(engine.snapshot(join(dir, 'src'), {
      bucket: 'faults/grow',
      onProgress: p => { if (!grown && p.path?.endsWith('z-last.bin') === true) { grown = true; appendFileSync(late, 'more bytes') } }
    }), (err: { code: string, message: string }) => err.code === 'ERR_CHANGED_DURING_SNAPSHOT' && err.message.includes('z-last.bin'))
    await assert.rejects(engine.buckets.get('faults/grow'), { code: 'ERR_BUCKET_NOT_FOUND' })
  } finally {
    await engine.close()
    await cleanup()
  }
})

test('an unreadable file stops the snapshot with a permission error naming it', async (t) => {
  if (process.getuid?.() !== 0) { t.skip('needs root to run the CLI as another user'); return }
  const [dir, cleanup] = await tempDir()
  try {
    await chmod(dir, 0o755)
    const home = join(dir, 'home')
    await mkdir(home, { mode: 0o777 })
    await chmod(home, 0o777)
    const src = join(dir, 'src')
    await mkdir(src)
    await writeFile(join(src, 'ok.txt'), 'readable')
    await writeFile(join(src, 'secret.txt'), 'root only', { mode: 0o600 })
    const asNobody = (args: string[]): ReturnType<typeof spawnSync> => spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ROK_BIN, ...args, '--home', home], { encoding: 'utf8', env: { ...process.env, HOME: dir } })
    const init = asNobody(['init'])
    if (init.status !== 0) { t.skip(`cannot run as nobody here: ${String(init.stderr).slice(0, 200)}`); return }
    const r = asNobody(['snapshot', src, '--bucket', 'faults/perm'])
    assert.equal(r.status, 1)
    assert.match(String(r.stderr), /cannot read .*secret\.txt: permission denied \[ERR_UNREADABLE\]/)
    const log = asNobody(['log', 'faults/perm'])
    assert.match(String(log.stderr), /no versions/)
  } finally {
    await cleanup()
  }
})
