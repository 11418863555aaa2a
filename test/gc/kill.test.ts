import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readlink, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { collect, rokJson, spawnRok } from '../fixtures/cli.ts'
import { compareTrees } from '../fixtures/tree-compare.ts'
import { seededBytes, tempDir } from '../fixtures/seeded.ts'

const FILES = 8000

function inspect (home: string): { blocks: number, candidates: number } {
  return JSON.parse(execFileSync(process.execPath, [fileURLToPath(new URL('./inspect-home.ts', import.meta.url)), home], { encoding: 'utf8' }))
}

/**
 * Bytes written to the home db's write-ahead logs since `seen` was first filled: gc's first
 * writes are its candidates, then the sweep's deletions. Level rotates its log, so each
 * file counts with the largest size it was seen at, also after it is gone.
 */
async function dbLogBytes (home: string, seen: Map<string, number>): Promise<number> {
  for (const f of await readdir(join(home, 'db'))) {
    if (!f.endsWith('.log')) continue
    const size = (await stat(join(home, 'db', f)).catch(() => ({ size: 0 }))).size
    seen.set(f, Math.max(seen.get(f) ?? 0, size))
  }
  let n = 0
  for (const size of seen.values()) n += size
  return n
}

/** Whether process `pid` has a pack file open: gc's mark reads manifests from packs; nothing before it does. */
async function readingPacks (pid: number): Promise<boolean> {
  try {
    for (const fd of await readdir(`/proc/${pid}/fd`)) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')).includes('/packs/')) return true
    }
  } catch {}
  return false
}

/** Run `rok gc --grace 0` and SIGKILL it when `when()` first holds; false when gc finished first. */
async function killGcWhen (home: string, when: (pid: number, logGrowth: number) => Promise<boolean>): Promise<boolean> {
  const child = spawnRok(['gc', '--grace', '0', '--home', home])
  const done = collect(child)
  let exited = false
  void done.then(() => { exited = true })
  try {
    const seen = new Map<string, number>()
    const log0 = await dbLogBytes(home, seen)
    while (!exited && !(await when(child.pid!, (await dbLogBytes(home, seen)) - log0))) await new Promise(resolve => setTimeout(resolve, 2))
    return !exited
  } finally {
    child.kill('SIGKILL')
    await done
  }
}

test('kill -9 during gc\'s mark and during its sweep: verify passes, every retained version restores byte-exactly, the rerun finishes', { timeout: 600_000 }, async () => {
  const [dir, cleanup] = await tempDir()
  const home = join(dir, 'home')
  const h = ['--home', home]
  try {
    await rokJson(['init', ...h])
    // Two versions of one folder that share nothing, and another bucket sharing half of v1.
    // Forgetting v1 leaves thousands of unreferenced chunks mixed into packs with live ones.
    const srcs = [join(dir, 'vol'), join(dir, 'vol'), join(dir, 'other')]
    for (const s of srcs) await mkdir(s, { recursive: true })
    for (let i = 0; i < FILES; i++) {
      await writeFile(join(srcs[0], `f${i}`), seededBytes(1 + i, 1500))
      if (i % 2 === 0) await writeFile(join(srcs[2], `f${i}`), seededBytes(1 + i, 1500))
    }
    await rokJson(['snapshot', srcs[0], '--bucket', 'kill/gc', ...h])
    await rokJson(['snapshot', srcs[2], '--bucket', 'kill/other', ...h])
    for (let i = 0; i < FILES; i++) await writeFile(join(srcs[1], `f${i}`), seededBytes(100_000 + i, 1500))
    await rokJson(['snapshot', srcs[1], '--bucket', 'kill/gc', ...h])
    await rokJson(['forget', 'kill/gc', '--keep-last', '1', ...h])
    const before = inspect(home)
    const dry = await rokJson(['gc', '--dry-run', '--grace', '0', ...h])
    assert.ok(dry.deadBlocks >= FILES / 2, `${dry.deadBlocks} unreferenced blocks`)

    const check = async (label: string): Promise<void> => {
      const verify = await rokJson(['verify', ...h])
      assert.equal(verify.ok, true, `verify after a kill ${label}`)
    }

    // 1. During the mark: the process reads manifests (a pack is open) and has written nothing yet.
    let killedInMark = 0
    for (const delayMs of [0, 150, 300]) {
      let since: number | undefined
      const killed = await killGcWhen(home, async (pid, growth) => {
        if (growth > 0) return true
        if (since === undefined && await readingPacks(pid)) since = Date.now()
        return since !== undefined && Date.now() - since >= delayMs
      })
      const state = inspect(home)
      if (killed && state.candidates === 0 && state.blocks === before.blocks) killedInMark++
      await check(`in the mark (+${delayMs} ms)`)
    }
    assert.ok(killedInMark >= 2, `${killedInMark} kills landed in the mark`)

    // 2. During the sweep: candidates are recorded and some of them already deleted.
    let killedInSweep = 0
    const swept = before.blocks - dry.deadBlocks
    for (const delayMs of [0, 25, 60, 120]) {
      // marking writes ~45 bytes per candidate to the db log (measured); the sweep follows at once
      let marked: number | undefined
      const killed = await killGcWhen(home, async (_pid, growth) => {
        if (marked === undefined && growth > dry.deadBlocks * 40) marked = Date.now()
        return marked !== undefined && Date.now() - marked >= delayMs
      })
      const state = inspect(home)
      if (killed && state.blocks < before.blocks && state.blocks > swept) killedInSweep++
      await check(`in the sweep (+${delayMs} ms)`)
      for (const [bucket, src] of [['kill/gc@2', srcs[1]], ['kill/other@1', srcs[2]]]) {
        const out = join(dir, `out-${delayMs}-${bucket.replace(/\W/g, '')}`)
        await rokJson(['restore', bucket, out, ...h])
        assert.deepEqual(await compareTrees(src, out, { rootMeta: false }), [], `${bucket} restores after a kill in the sweep`)
      }
    }
    assert.ok(killedInSweep >= 1, `${killedInSweep} kills landed mid-sweep`)

    // 3. The rerun finishes the job; nothing unreferenced is left and every retained version restores.
    await rokJson(['gc', '--grace', '0', ...h])
    const after = await rokJson(['gc', '--dry-run', '--grace', '0', ...h])
    assert.equal(after.deadBlocks, 0)
    assert.equal(inspect(home).candidates, 0)
    await check('after the rerun')
    for (const [bucket, src] of [['kill/gc@2', srcs[1]], ['kill/other@1', srcs[2]]]) {
      const out = join(dir, `final-${bucket.replace(/\W/g, '')}`)
      await rokJson(['restore', bucket, out, ...h])
      assert.deepEqual(await compareTrees(src, out, { rootMeta: false }), [])
    }
  } finally {
    await cleanup()
  }
})
