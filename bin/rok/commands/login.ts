import type { Command } from '../../cli/command.ts'
import { UsageError } from '../../cli/run.ts'
import { str } from './registry-session.ts'

export const login: Command = {
  name: 'login',
  summary: 'save registry credentials for this node home',
  usage: 'login URL --token T',
  description: 'Checks the token against the registry, then saves URL and token in HOME/registry.json (readable only by you). Login attempts are rate-limited by the registry.',
  positionals: 1,
  options: { token: { type: 'string' } },
  optionHelp: { token: "API token (from 'rok user create' or the registry's first start); default $ROK_REGISTRY_TOKEN" },
  async run (ctx) {
    const { createRegistryClient } = await import('../../../registry/client.ts')
    const { saveCredentials } = await import('../../../registry/credentials.ts')
    const token = str(ctx.options.token) ?? ctx.env.ROK_REGISTRY_TOKEN
    if (token === undefined) throw new UsageError("missing --token T; usage: rok login URL --token T")
    const client = createRegistryClient({ url: ctx.args[0], token })
    const me = await client.login({ signal: ctx.signal })
    const path = await saveCredentials(ctx.home, { url: client.url, token, user: me.user })
    ctx.out.result({ url: client.url, user: me.user, admin: me.admin, saved: path }, (r: { url: string, user: string, admin: boolean, saved: string }) => {
      ctx.out.line(`logged in to ${r.url} as ${r.user}${r.admin ? ' (admin)' : ''}; credentials saved in ${r.saved}`)
    })
  }
}
