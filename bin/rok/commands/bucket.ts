import type { Command, CommandContext } from '../../cli/command.ts'
import type { Bucket, Rule } from '../../../protocol/registry-api.ts'
import { formatBytes } from '../../cli/output.ts'
import { UsageError } from '../../cli/run.ts'
import { REGISTRY_OPTIONS, REGISTRY_OPTION_HELP, registryClient, str } from './registry-session.ts'

function printBucket (ctx: CommandContext, b: Bucket): void {
  ctx.out.line(`${b.bucket} (${b.visibility})  latest @${b.latestSeq}  updated ${b.updatedAt}`)
  if (b.description !== '') ctx.out.line(`  ${b.description}`)
  if (b.tags.length > 0) ctx.out.line(`  tags: ${b.tags.join(', ')}`)
}

const create: Command = {
  name: 'create',
  summary: 'create a bucket in a group (publishers, owners)',
  usage: 'create GROUP/NAME [--description TEXT] [--tag T]... [--private]',
  positionals: 1,
  options: { description: { type: 'string' }, tag: { type: 'string', multiple: true }, private: { type: 'boolean' }, ...REGISTRY_OPTIONS },
  optionHelp: { description: 'what is in it', tag: 'a search tag (repeatable)', private: "private even if the group is public (default: the group's visibility)", ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    const b = await client.createBucket(ctx.args[0], {
      description: str(ctx.options.description),
      tags: ctx.options.tag as string[] | undefined,
      visibility: ctx.options.private === true ? 'private' : undefined
    }, { signal: ctx.signal })
    ctx.out.result(b, (r: Bucket) => printBucket(ctx, r))
  }
}

const update: Command = {
  name: 'update',
  summary: "change a bucket's description, tags or visibility (publishers)",
  usage: 'update GROUP/NAME [--description TEXT] [--tag T]... [--public | --private]',
  positionals: 1,
  options: { description: { type: 'string' }, tag: { type: 'string', multiple: true }, public: { type: 'boolean' }, private: { type: 'boolean' }, ...REGISTRY_OPTIONS },
  optionHelp: {
    description: 'what is in it',
    tag: 'replaces the tags (repeatable)',
    public: 'anyone may find and read it (only in a public group)',
    private: 'only those the group and rules allow',
    ...REGISTRY_OPTION_HELP
  },
  async run (ctx) {
    if (ctx.options.public === true && ctx.options.private === true) throw new UsageError('give --public or --private, not both')
    const visibility = ctx.options.public === true ? 'public' as const : ctx.options.private === true ? 'private' as const : undefined
    const description = str(ctx.options.description)
    const tags = ctx.options.tag as string[] | undefined
    if (visibility === undefined && description === undefined && tags === undefined) throw new UsageError('nothing to change: give --description, --tag, --public or --private')
    const client = await registryClient(ctx, { needToken: true })
    const b = await client.updateBucket(ctx.args[0], {
      ...(description !== undefined ? { description } : {}),
      ...(tags !== undefined ? { tags } : {}),
      ...(visibility !== undefined ? { visibility } : {})
    }, { signal: ctx.signal })
    ctx.out.result(b, (r: Bucket) => printBucket(ctx, r))
  }
}

const show: Command = {
  name: 'show',
  summary: 'show a bucket and its recent versions',
  usage: 'show GROUP/NAME',
  positionals: 1,
  options: { ...REGISTRY_OPTIONS },
  optionHelp: { ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx)
    const bucket = await client.getBucket(ctx.args[0], { signal: ctx.signal })
    const after = Math.max(0, bucket.latestSeq - 10)
    const { versions } = await client.listVersions(ctx.args[0], { after }, { signal: ctx.signal })
    const providers = await client.listProviders(ctx.args[0], { signal: ctx.signal })
    ctx.out.result({ ...bucket, versions, providers }, () => {
      printBucket(ctx, bucket)
      for (const v of versions.reverse()) ctx.out.line(`  @${v.seq}  ${new Date(v.createdAt).toISOString()}  ${formatBytes(v.size)} ${v.kind}  ${v.cid}${v.message !== '' ? `  ${v.message}` : ''}`)
      if (providers.length > 0) ctx.out.line(`  held by: ${providers.map(p => `${p.peer}@${p.seq}`).join(', ')}`)
    })
  }
}

const RULE_OPTIONS = {
  user: { type: 'string' },
  group: { type: 'string' },
  right: { type: 'string' },
  deny: { type: 'boolean' },
  ...REGISTRY_OPTIONS
} as const
const RULE_HELP = {
  user: 'the user the rule is for',
  group: 'or: the group whose members the rule is for',
  right: 'read (default) or publish',
  deny: 'a deny rule (deny wins over every allow)',
  ...REGISTRY_OPTION_HELP
}

function ruleFrom (ctx: CommandContext): Rule {
  const user = str(ctx.options.user)
  const group = str(ctx.options.group)
  if ((user === undefined) === (group === undefined)) throw new UsageError('give exactly one of --user U or --group G')
  const right = str(ctx.options.right) ?? 'read'
  if (right !== 'read' && right !== 'publish') throw new UsageError(`--right ${right} is not read or publish`)
  return { subject: user !== undefined ? `user:${user}` : `group:${group!}`, right, effect: ctx.options.deny === true ? 'deny' : 'allow' }
}

function printRules (ctx: CommandContext, rules: Rule[]): void {
  ctx.out.result(rules, (l: Rule[]) => {
    if (l.length === 0) ctx.out.line('no rules: access follows group roles and visibility')
    for (const r of l) ctx.out.line(`${r.effect} ${r.right} ${r.subject}`)
  })
}

const grant: Command = {
  name: 'grant',
  summary: 'allow (or --deny) read/publish on a bucket for a user or group (owners)',
  usage: 'grant GROUP/NAME (--user U | --group G) [--right read|publish] [--deny]',
  positionals: 1,
  options: RULE_OPTIONS,
  optionHelp: RULE_HELP,
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    printRules(ctx, await client.addRule(ctx.args[0], ruleFrom(ctx), { signal: ctx.signal }))
  }
}

const revoke: Command = {
  name: 'revoke',
  summary: 'remove a rule added with bucket grant (owners)',
  usage: 'revoke GROUP/NAME (--user U | --group G) [--right read|publish] [--deny]',
  positionals: 1,
  options: RULE_OPTIONS,
  optionHelp: RULE_HELP,
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    printRules(ctx, await client.removeRule(ctx.args[0], ruleFrom(ctx), { signal: ctx.signal }))
  }
}

export const bucket: Command = {
  name: 'bucket',
  summary: 'manage registry buckets and their access rules',
  usage: 'bucket create|show|update|grant|revoke ...',
  subcommands: [create, show, update, grant, revoke]
}
