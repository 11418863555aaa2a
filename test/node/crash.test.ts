import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { collect, rokJson, spawnRok } from '../fixtures/cli.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

async function packBytes (home: string): Promise<number> {
  let total = 0
  for (const name of await readdir(join(home, 'packs')).catch(() => [])) total += (await stat(join(home, 'packs', name))).size
  return total
}

/** Start a rok command and SIGKILL it once `ready()` says so (or after `maxMs`). */
async function killWhen (args: string[], ready: () => Promise<boolean>, maxMs: number): Promise<{ killedMidway: boolean }> {
  const child = spawnRok(args)
  const done = collect(child)
  const started = Date.now()
  let exited = false
  void done.then(() => { exited = true })
  while (!exited && Date.now() - started < maxMs && !(await ready())) await new Promise(resolve => setTimeout(resolve, 5))
  const killedMidway = !exited
  child.kill('SIGKILL')
  await done
  return { killedMidway }
}

async function writeVolume (root: string, seed: number, files: number, size: number): Promise<void> {
  await mkdir(root, { recursive: true })
  for (let i = 0; i < files; i++) await writeFile(join(root, `part-${i}.bin`), seededBytes(seed + i, size))
}

test('kill -9 at any point of a snapshot leaves a store that verifies, and the rerun completes', { timeout: 300_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  try {
    await rokJson(['init', ...h])
    const src = join(dir, 'vol')
    await writeVolume(src, 1000, 12, 16 * 1024 * 1024)
    const thresholds = [0, 1, 20e6, 40e6, 90e6, 150e6]
    let midway = 0
    for (const t of thresholds) {
      const { killedMidway } = await killWhen(['snapshot', src, '--bucket', 'crash/snap', ...h], async () => t === 0 ? true : (await packBytes(home)) >= t, 60_000)
      if (killedMidway) midway++
      const verify = await rokJson(['verify', ...h])
      assert.equal(verify.ok, true, `store verifies after a kill at ${t} pack bytes`)
    }
    assert.ok(midway >= 4, `${midway} of ${thresholds.length} kills landed mid-snapshot`)
    const done = await rokJson(['snapshot', src, '--bucket', 'crash/snap', ...h])
    assert.ok(done.newBytes < done.size, 'the rerun reuses chunks an interrupted run had already stored')
    await rokJson(['restore', `crash/snap@${done.seq}`, join(dir, 'restored'), ...h])
    assert.deepEqual(await compareTrees(src, join(dir, 'restored')), [])
  } finally {
    await cleanup()
  }
})

test('kill -9 during gc leaves every retained version intact, and the rerun finishes the job', { timeout: 300_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  try {
    await rokJson(['init', ...h])
    const src = join(dir, 'vol')
    // v1 holds keep-* and drop-*; v2 only keep-*, so dropping v1 leaves garbage mixed into v2's packs.
    for (let i = 0; i < 10; i++) {
      await mkdir(src, { recursive: true })
      await writeFile(join(src, `keep-${i}.bin`), seededBytes(i, 4 * 1024 * 1024))
      await writeFile(join(src, `drop-${i}.bin`), seededBytes(100 + i, 6 * 1024 * 1024))
    }
    await rokJson(['snapshot', src, '--bucket', 'crash/gc', ...h])
    execFileSync('sh', ['-c', `rm ${join(src, 'drop-')}*`])
    await rokJson(['snapshot', src, '--bucket', 'crash/gc', ...h])
    execFileSync(process.execPath, [fileURLToPath(new URL('../fixtures/drop-version.ts', import.meta.url)), home, 'crash/gc', '1'])
    const before = await rokJson(['gc', '--dry-run', '--grace', '0', ...h])
    assert.ok(before.deadBytes >= 60 * 1024 * 1024 * 0.95, `dry run finds ${before.deadBytes} dead bytes`)
    assert.ok(before.packsRewritten + before.packsRemoved > 0)

    const packSet = async (): Promise<string> => (await readdir(join(home, 'packs'))).sort().join()
    // Kill when gc starts writing a rewritten pack, when it starts deleting old ones, and at fixed delays.
    const points: Array<[string, () => Promise<() => Promise<boolean>>]> = [
      ['new pack appears', async () => { const was = await packSet(); return async () => (await packSet()).split(',').some(p => !was.includes(p)) }],
      ['old pack removed', async () => { const was = (await packSet()).split(','); return async () => { const now = await packSet(); return was.some(p => !now.includes(p)) } }],
      ['600 ms', async () => { const t = Date.now(); return async () => Date.now() - t >= 600 }],
      ['900 ms', async () => { const t = Date.now(); return async () => Date.now() - t >= 900 }]
    ]
    let midway = 0
    for (const [label, arm] of points) {
      const { killedMidway } = await killWhen(['gc', '--grace', '0', ...h], await arm(), 60_000)
      if (killedMidway) midway++
      const verify = await rokJson(['verify', ...h])
      assert.equal(verify.ok, true, `store verifies after a gc killed at: ${label}`)
    }
    assert.ok(midway >= 1, `${midway} kills landed before gc finished`)
    await rokJson(['gc', '--grace', '0', ...h])
    const after = await rokJson(['gc', '--dry-run', '--grace', '0', ...h])
    assert.equal(after.deadBlocks, 0)
    assert.ok(after.packBytesBefore < 50 * 1024 * 1024, `packs hold ${after.packBytesBefore} bytes after gc`)
    await rokJson(['restore', 'crash/gc@2', join(dir, 'restored'), ...h])
    assert.deepEqual(await compareTrees(src, join(dir, 'restored'), { rootMeta: false }), [])
  } finally {
    await cleanup()
  }
})
