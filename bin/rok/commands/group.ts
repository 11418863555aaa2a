import type { Command } from '../../cli/command.ts'
import type { Group } from '../../../protocol/registry-api.ts'
import { UsageError } from '../../cli/run.ts'
import type { CommandContext } from '../../cli/command.ts'
import { REGISTRY_OPTIONS, REGISTRY_OPTION_HELP, registryClient, str } from './registry-session.ts'

function printGroup (ctx: CommandContext, g: Group): void {
  ctx.out.result(g, (r: Group) => {
    ctx.out.line(`${r.name} (${r.visibility})${r.description !== '' ? ` — ${r.description}` : ''}`)
    for (const m of r.members) ctx.out.line(`  ${m.user}  ${m.role}`)
  })
}

const create: Command = {
  name: 'create',
  summary: 'create a group; you become its owner',
  usage: 'create NAME [--public] [--description TEXT]',
  positionals: 1,
  options: { public: { type: 'boolean' }, description: { type: 'string' }, ...REGISTRY_OPTIONS },
  optionHelp: { public: 'anyone may find and read its public buckets (default: private)', description: 'one line about the group', ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    printGroup(ctx, await client.createGroup({ name: ctx.args[0], visibility: ctx.options.public === true ? 'public' : 'private', description: str(ctx.options.description) }, { signal: ctx.signal }))
  }
}

const show: Command = {
  name: 'show',
  summary: 'show a group and its members',
  usage: 'show NAME',
  positionals: 1,
  options: { ...REGISTRY_OPTIONS },
  optionHelp: { ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx)
    printGroup(ctx, await client.getGroup(ctx.args[0], { signal: ctx.signal }))
  }
}

const update: Command = {
  name: 'update',
  summary: "change a group's visibility or description (owners)",
  usage: 'update NAME [--public | --private] [--description TEXT]',
  positionals: 1,
  options: { public: { type: 'boolean' }, private: { type: 'boolean' }, description: { type: 'string' }, ...REGISTRY_OPTIONS },
  optionHelp: {
    public: 'let anyone find the group; its existing buckets stay as they are (open each with `rok bucket update`)',
    private: 'hide the group; its public buckets become private too',
    description: 'one line about the group',
    ...REGISTRY_OPTION_HELP
  },
  async run (ctx) {
    if (ctx.options.public === true && ctx.options.private === true) throw new UsageError('give --public or --private, not both')
    const visibility = ctx.options.public === true ? 'public' : ctx.options.private === true ? 'private' : undefined
    const description = str(ctx.options.description)
    if (visibility === undefined && description === undefined) throw new UsageError('nothing to change: give --public, --private or --description TEXT')
    const client = await registryClient(ctx, { needToken: true })
    printGroup(ctx, await client.updateGroup(ctx.args[0], { ...(visibility !== undefined ? { visibility } : {}), ...(description !== undefined ? { description } : {}) }, { signal: ctx.signal }))
  }
}

const add: Command = {
  name: 'add',
  summary: "add a member or change their role (owners)",
  usage: 'add NAME USER [--role owner|publisher|reader]',
  positionals: 2,
  options: { role: { type: 'string' }, ...REGISTRY_OPTIONS },
  optionHelp: { role: 'reader (default), publisher or owner', ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const role = str(ctx.options.role) ?? 'reader'
    if (role !== 'owner' && role !== 'publisher' && role !== 'reader') throw new UsageError(`--role ${role} is not one of owner, publisher, reader`)
    const client = await registryClient(ctx, { needToken: true })
    printGroup(ctx, await client.setMember(ctx.args[0], ctx.args[1], role, { signal: ctx.signal }))
  }
}

const remove: Command = {
  name: 'remove',
  summary: 'remove a member (owners)',
  usage: 'remove NAME USER',
  positionals: 2,
  options: { ...REGISTRY_OPTIONS },
  optionHelp: { ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    printGroup(ctx, await client.removeMember(ctx.args[0], ctx.args[1], { signal: ctx.signal }))
  }
}

export const group: Command = {
  name: 'group',
  summary: 'manage registry groups and their members',
  usage: 'group create|show|update|add|remove ...',
  subcommands: [create, show, update, add, remove]
}
