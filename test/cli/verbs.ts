/**
 * Check a `rok …` command line written somewhere a user will copy it from (the README, the
 * Docker files) against the CLI's own verb table, so a renamed verb or flag fails a test
 * instead of a newcomer.
 */
import assert from 'node:assert/strict'
import { commands } from '../../bin/rok/commands/index.ts'
import { loadCommand, type Command } from '../../bin/cli/command.ts'

const GLOBAL = new Set(['help', 'json', 'verbose', 'home'])
const VERBS = await Promise.all(commands.map(loadCommand))

/** Check `rok ARGS…` against the verb table: the verb path exists and every --option is one of its options. */
export function checkRokCommand (args: string[], where: string): void {
  let list = VERBS
  let cmd: Command | undefined
  let i = 0
  while (i < args.length) {
    const next = list.find(c => c.name === args[i])
    if (next === undefined) break
    cmd = next
    i++
    if (next.subcommands === undefined) break
    list = next.subcommands
  }
  assert.ok(cmd !== undefined && cmd.subcommands === undefined, `${where}: 'rok ${args.join(' ')}' is not a rok verb`)
  for (const a of args.slice(i)) {
    const m = /^--([a-z-]+)/.exec(a)
    if (m === null) continue
    assert.ok(GLOBAL.has(m[1]) || cmd.options?.[m[1]] !== undefined, `${where}: 'rok ${cmd.name}' has no option --${m[1]}`)
  }
}

