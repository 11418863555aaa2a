/**
 * The README's commands are real: every `npx rok …` a reader would copy from its console
 * and shell blocks names a real verb with real options, and the quickstart's scripts exist
 * in package.json. (What the commands print was pasted from real runs; the demo test runs
 * the journeys themselves.)
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { checkRokCommand } from './verbs.ts'

const README = fileURLToPath(new URL('../../README.md', import.meta.url))
const PACKAGE = fileURLToPath(new URL('../../package.json', import.meta.url))

/** `npx rok …` command lines in fenced console/sh blocks, split at && | ; and without comments. */
function readmeCommands (text: string): Array<{ line: number, args: string[] }> {
  const found: Array<{ line: number, args: string[] }> = []
  let inBlock = false
  text.split('\n').forEach((raw, i) => {
    if (raw.startsWith('```')) { inBlock = !inBlock && /^```(console|sh)$/.test(raw); return }
    if (!inBlock) return
    const command = /^\S*\$ (.*)$/.exec(raw)?.[1] ?? (raw.startsWith('npx ') || raw.includes(' npx rok ') ? raw : undefined)
    if (command === undefined) return
    for (const part of command.replace(/\s#.*$/, '').split(/&&|\||;/)) {
      const m = /(?:^|\s)npx rok\s+(.*)$/.exec(part.trim())
      if (m === null) continue
      found.push({ line: i + 1, args: (m[1].match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map(w => w.replace(/^["']|["']$/g, '')) })
    }
  })
  return found
}

test('every rok command in the README is a real verb with real options', async () => {
  const commands = readmeCommands(await readFile(README, 'utf8'))
  assert.ok(commands.length > 40, `found ${commands.length} commands`)
  const verbs = new Set(commands.map(c => c.args[0]))
  for (const v of ['registry', 'login', 'user', 'group', 'bucket', 'init', 'node', 'publish', 'subscribe', 'status', 'search', 'log', 'diff', 'restore', 'tier', 'doctor', 'policy', 'gc']) {
    assert.ok(verbs.has(v), `the README shows 'rok ${v}'`)
  }
  for (const c of commands) checkRokCommand(c.args, `README.md:${c.line}`)
})

test("the quickstart's two commands exist", async () => {
  const readme = await readFile(README, 'utf8')
  assert.match(readme, /npm install && npm run demo/)
  assert.match(readme, /^npm test /m)
  const scripts = (JSON.parse(await readFile(PACKAGE, 'utf8')) as { scripts: Record<string, string> }).scripts
  assert.equal(scripts.demo, 'node bin/demo.ts')
  assert.match(scripts.test, /tsc --noEmit && node --test/)
})
