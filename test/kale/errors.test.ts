/** Every Kale error code is documented, so users can look up what `--json` printed. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { it } from 'node:test'
import { KaleErrorCode } from '../../kale/errors.ts'

it('every Kale error code is in the table of kale/README.md', () => {
  const readme = readFileSync(new URL('../../kale/README.md', import.meta.url), 'utf8')
  const missing = Object.values(KaleErrorCode).filter(code => !readme.includes(`| \`${code}\` |`))
  assert.deepEqual(missing, [])
})
