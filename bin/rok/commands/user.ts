import type { Command } from '../../cli/command.ts'
import type { TokenInfo } from '../../../protocol/registry-api.ts'
import { REGISTRY_OPTIONS, REGISTRY_OPTION_HELP, registryClient } from './registry-session.ts'

const create: Command = {
  name: 'create',
  summary: "create a registry user and print their token (admins)",
  usage: 'create NAME [--admin]',
  positionals: 1,
  options: { admin: { type: 'boolean' }, ...REGISTRY_OPTIONS },
  optionHelp: { admin: 'make the user a registry admin', ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    const created = await client.createUser(ctx.args[0], { admin: ctx.options.admin === true }, { signal: ctx.signal })
    ctx.out.result(created, (r: typeof created) => {
      ctx.out.line(`created user ${r.user}`)
      ctx.out.line(`token (shown once): ${r.token}`)
      ctx.out.line(`they log in with: rok login ${client.url} --token ${r.token}`)
    })
  }
}

const tokens: Command = {
  name: 'tokens',
  summary: 'list your API tokens with their last use',
  usage: 'tokens',
  positionals: 0,
  options: { ...REGISTRY_OPTIONS },
  optionHelp: { ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    const list = await client.listTokens({ signal: ctx.signal })
    ctx.out.result(list, (l: TokenInfo[]) => {
      for (const t of l) ctx.out.line(`${t.id}  created ${t.createdAt}  last used ${t.lastUsedAt ?? 'never'}${t.revokedAt !== null ? `  revoked ${t.revokedAt}` : ''}`)
    })
  }
}

const revoke: Command = {
  name: 'revoke-token',
  summary: 'revoke one of your API tokens by id',
  usage: 'revoke-token ID',
  positionals: 1,
  options: { ...REGISTRY_OPTIONS },
  optionHelp: { ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const client = await registryClient(ctx, { needToken: true })
    const t = await client.revokeToken(ctx.args[0], { signal: ctx.signal })
    ctx.out.result(t, (r: TokenInfo) => ctx.out.line(`revoked token ${r.id} of ${r.user}`))
  }
}

export const user: Command = {
  name: 'user',
  summary: 'manage registry users and tokens',
  usage: 'user create|tokens|revoke-token ...',
  subcommands: [create, tokens, revoke]
}
