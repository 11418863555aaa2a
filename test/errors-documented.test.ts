import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const PARTS = ['protocol', 'server', 'node', 'registry', 'bin', 'csi']

async function * sources (dir: string): AsyncGenerator<string> {
  let entries
  try { entries = await readdir(dir, { withFileTypes: true }) } catch { return }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) yield * sources(p)
    else if (e.name.endsWith('.ts')) yield p
  }
}

test('every error code the code can raise is documented in docs/ERRORS.md', async () => {
  const docs = await readFile(join(ROOT, 'docs', 'ERRORS.md'), 'utf8')
  const missing = new Set<string>()
  for (const part of PARTS) {
    for await (const file of sources(join(ROOT, part))) {
      for (const [, code] of (await readFile(file, 'utf8')).matchAll(/'(ERR_[A-Z0-9_]+)'/g)) {
        if (!docs.includes(`\`${code}\``)) missing.add(`${code} (${file.slice(ROOT.length)})`)
      }
    }
  }
  assert.deepEqual([...missing], [], 'add these codes to docs/ERRORS.md')
})
