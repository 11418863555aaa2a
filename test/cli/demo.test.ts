/**
 * `npm run demo` end to end on its quick dataset (~15 MiB instead of ~200 MiB): it
 * must exit 0 having run every journey — the narrative's checks are real (search,
 * byte-for-byte restores, v3 with the registry down) and the demo fails when one does not
 * hold. With --keep, the folder stays and the CLI can explore it, as the demo says.
 * The demo's pieces are tested too: the dataset is the same on every run, and the tree
 * fingerprint notices a changed byte, mode or mtime.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { spawn } from 'node:child_process'
import { chmod, rm, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { collect, rokJson } from '../fixtures/cli.ts'
import { tempDir } from '../fixtures/seeded.ts'
import { changeDataset, writeDataset } from '../../bin/demo/dataset.ts'
import { differences, fingerprintTree } from '../../bin/demo/fingerprint.ts'

const DEMO = fileURLToPath(new URL('../../bin/demo.ts', import.meta.url))

test('npm run demo runs the four journeys with real processes, exits 0, and --keep leaves a folder the CLI can explore', { timeout: 300_000 }, async () => {
  const r = await collect(spawn(process.execPath, [DEMO, '--keep', '--quick'], { stdio: ['ignore', 'pipe', 'pipe'] }))
  const out = r.stdout
  const kept = /Kept everything in (\S+)\./.exec(out)?.[1] ?? /Working folder: (\S+) /.exec(out)?.[1]
  try {
    await checkDemo(r.code, out, r.stderr, kept)
  } finally {
    if (kept !== undefined) await rm(kept, { recursive: true, force: true })
  }
})

async function checkDemo (code: number | null, out: string, stderr: string, kept: string | undefined): Promise<void> {
  assert.equal(code, 0, `demo failed:\n${out}\n${stderr}`)
  assert.match(out, /bob finds: acme\/sample, open\/label-schema/)
  assert.match(out, /eve finds: open\/label-schema\n/, 'the outsider sees the public bucket only')
  assert.match(out, /B received [^\n]*:\n(?: +[\d.]+ [KM]?i?B from [ABC] \((?:publisher|subscriber|provider)\)\n)+/, 'who served what')
  assert.match(out, /v1: .* identical to A's v1, all \d+ entries/)
  assert.match(out, /v2: .* identical to A's v2, all \d+ entries/)
  assert.match(out, /registry reference is queued/)
  assert.match(out, /B and C hold @3 /)
  assert.match(out, /the tier holds 4 versions in \d+ packs/)
  assert.match(out, /dedup ratio \d+\.\d\d×/)
  assert.match(out, /^ {2}total time +\d+\.\d s$/m)
  assert.match(out, /Kept everything in /, 'it says where it kept everything')
  const versions = await rokJson(['log', 'acme/sample', '--home', join(kept!, 'cluster-c')])
  assert.deepEqual(versions.map((v: { seq: number }) => v.seq), [3, 2, 1], 'C holds every version')
}

test('the demo dataset is the same bytes on every run; v2 is a small change', async () => {
  const [dir, cleanup] = await tempDir('rok-demo-data-')
  try {
    const shape = { imageMib: 16, shards: 2, labels: 40, features: 3 }
    const a = await writeDataset(join(dir, 'a'), shape)
    const b = await writeDataset(join(dir, 'b'), shape)
    assert.deepEqual(a, b)
    assert.equal(a.files, 40 + 3 + 2 + 2)
    const [fa, fb] = [await fingerprintTree(join(dir, 'a')), await fingerprintTree(join(dir, 'b'))]
    assert.deepEqual([...fa.values()].map(e => e.what), [...fb.values()].map(e => e.what), 'same content, modes and sizes')
    await changeDataset(join(dir, 'b'))
    const changed = differences(fa, await fingerprintTree(join(dir, 'b')))
    assert.ok(changed.includes('disk.img') && changed.includes('features/batch-new.npy') && changed.includes('labels/part-3/sample-3.json'), changed.join(', '))
  } finally {
    await cleanup()
  }
})

test('the fingerprint notices one changed byte, a mode, an mtime beyond a microsecond, but not a sub-microsecond one', async () => {
  const [dir, cleanup] = await tempDir('rok-demo-print-')
  try {
    const file = join(dir, 'f.bin')
    await writeFile(file, 'abcdef')
    await utimes(file, 1_700_000_000, 1_700_000_000)
    const before = await fingerprintTree(dir)
    await writeFile(file, 'abcdeF')
    await utimes(file, 1_700_000_000, 1_700_000_000)
    assert.deepEqual(differences(before, await fingerprintTree(dir)), ['f.bin'], 'content')
    await writeFile(file, 'abcdef')
    await chmod(file, 0o600)
    await utimes(file, 1_700_000_000, 1_700_000_000)
    assert.deepEqual(differences(before, await fingerprintTree(dir)), ['f.bin'], 'mode')
    await chmod(file, 0o644)
    await utimes(file, 1_700_000_000.0005, 1_700_000_000.0005)
    assert.deepEqual(differences(before, await fingerprintTree(dir)), ['f.bin'], 'mtime off by 0.5 ms')
    await utimes(file, 1_700_000_000, 1_700_000_000)
    const same = await fingerprintTree(dir)
    same.set('f.bin', { ...same.get('f.bin')!, mtimeNs: same.get('f.bin')!.mtimeNs + 999n })
    assert.deepEqual(differences(before, same), [], 'under a microsecond is the same')
    await rm(file)
    assert.deepEqual(differences(before, await fingerprintTree(dir)), ['f.bin'], 'missing')
  } finally {
    await cleanup()
  }
})
