/**
 * Shared command-line driver for `rok` and `kale`: finds the verb, parses its options with
 * `node:util` parseArgs (strict: unknown options are errors), prints `--help`, and turns
 * a thrown error into one line on stderr and an exit code.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { RokError, isRokError } from '../../protocol/errors.ts'
import { loadCommand, type Command, type CommandContext, type CommandEntry } from './command.ts'
import { createOutput, describeError } from './output.ts'

export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_USAGE = 2
/** Interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it. */
export const EXIT_INTERRUPTED = 130

/** 2 for a usage mistake, 130 when interrupted, 1 for every other error. */
export function exitCodeFor (err: unknown): number {
  if (err instanceof UsageError) return EXIT_USAGE
  if (isRokError(err, 'ERR_ABORTED') || (err as Error | undefined)?.name === 'AbortError') return EXIT_INTERRUPTED
  return EXIT_FAILURE
}

const GLOBAL_OPTIONS: ParseArgsOptionsConfig = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  home: { type: 'string' }
}

const GLOBAL_HELP: Record<string, string> = {
  help: 'show help for this command',
  json: 'print the result as JSON (for scripts)',
  verbose: 'print more detail, including the causes of errors',
  home: 'node home folder (default $ROK_HOME or ~/.rok)'
}

export interface Program {
  name: string
  summary: string
  commands: CommandEntry[]
}

export class UsageError extends RokError {
  constructor (message: string) {
    super('ERR_USAGE', message)
    this.name = 'UsageError'
  }
}

export async function runCli (program: Program, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const wantsJson = argv.includes('--json')
  const out = createOutput({ json: wantsJson, verbose: argv.includes('--verbose') || argv.includes('-v') })
  const path: string[] = [program.name]
  try {
    let commands: CommandEntry[] = program.commands
    let rest = argv
    let command: Command | undefined
    while (true) {
      const verb = rest[0]
      if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
        if (command === undefined) {
          process.stdout.write(programHelp(program.name, program.summary, await Promise.all(program.commands.map(loadCommand))))
          return verb === undefined ? EXIT_USAGE : EXIT_OK
        }
        process.stdout.write(commandHelp(path, command))
        return verb === undefined ? EXIT_USAGE : EXIT_OK
      }
      const entry = commands.find(c => c.name === verb)
      if (entry === undefined) {
        const where = path.join(' ')
        throw new UsageError(`unknown command '${verb}' for ${where}; run '${where} --help' to see the commands`)
      }
      const next = await loadCommand(entry)
      command = next
      path.push(verb)
      rest = rest.slice(1)
      if (next.subcommands === undefined) break
      commands = next.subcommands
    }
    const config = { ...GLOBAL_OPTIONS, ...command.options }
    let parsed
    try {
      parsed = parseArgs({ args: rest, options: config, allowPositionals: true, strict: true })
    } catch (err) {
      throw new UsageError(`${(err as Error).message.replace(/\. To specify.*$/s, '')}; run '${path.join(' ')} --help' for usage`)
    }
    const options = parsed.values as CommandContext['options']
    if (options.help === true) {
      process.stdout.write(commandHelp(path, command))
      return EXIT_OK
    }
    checkPositionals(path, command, parsed.positionals)
    const controller = new AbortController()
    const onSignal = (): void => controller.abort(new RokError('ERR_ABORTED', 'interrupted'))
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    try {
      const home = resolve(typeof options.home === 'string' ? options.home : env.ROK_HOME ?? join(homedir(), '.rok'))
      const code = await command.run!({ args: parsed.positionals, options, home, env, out, signal: controller.signal })
      return code ?? EXIT_OK
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  } catch (err) {
    if (wantsJson) {
      const body = err instanceof RokError ? err.toJSON() : { code: (err as NodeJS.ErrnoException).code ?? 'ERR_UNEXPECTED', message: (err as Error).message }
      process.stdout.write(JSON.stringify({ error: body }, null, 2) + '\n')
    }
    process.stderr.write(`${path.join(' ')}: ${describeError(err, out.verbose)}\n`)
    return exitCodeFor(err)
  }
}

function checkPositionals (path: string[], command: Command, positionals: string[]): void {
  if (command.positionals === undefined) return
  const [min, max] = typeof command.positionals === 'number' ? [command.positionals, command.positionals] : command.positionals
  if (positionals.length < min || positionals.length > max) {
    const what = positionals.length < min ? 'missing arguments' : `unexpected argument '${positionals[max]}'`
    throw new UsageError(`${what}; usage: ${path.slice(0, -1).join(' ')} ${command.usage}`)
  }
}

function programHelp (name: string, summary: string, commands: Command[]): string {
  const width = Math.max(...commands.map(c => c.name.length))
  const lines = [
    `${name} — ${summary}`,
    '',
    `Usage: ${name} COMMAND [options]`,
    '',
    'Commands:',
    ...commands.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    ...Object.entries(GLOBAL_HELP).map(([k, v]) => `  --${k.padEnd(10)} ${v}`),
    '',
    `Run '${name} COMMAND --help' for a command's usage.`,
    ''
  ]
  return lines.join('\n')
}

export function commandHelp (path: string[], command: Command): string {
  const prefix = path.slice(0, -1).join(' ')
  const lines = [`Usage: ${prefix} ${command.usage}`, '', command.summary]
  if (command.description !== undefined) lines.push('', command.description.trim())
  if (command.subcommands !== undefined) {
    const width = Math.max(...command.subcommands.map(c => c.name.length))
    lines.push('', 'Commands:', ...command.subcommands.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`))
  }
  const opts = Object.entries(command.options ?? {})
  if (opts.length > 0) {
    lines.push('', 'Options:')
    for (const [name, cfg] of opts) {
      const flag = `${cfg.short !== undefined ? `-${cfg.short}, ` : '    '}--${name}${cfg.type === 'string' ? ' VALUE' : ''}`
      lines.push(`  ${flag.padEnd(26)} ${command.optionHelp?.[name] ?? ''}`)
    }
  }
  lines.push('', 'Global options:', ...Object.entries(GLOBAL_HELP).map(([k, v]) => `      --${k.padEnd(20)} ${v}`), '')
  return lines.join('\n')
}
