/**
 * How the registry verbs reach the registry: `--registry URL` / `--token T`, else
 * $ROK_REGISTRY_URL / $ROK_REGISTRY_TOKEN, else what `rok login` saved in the node home.
 */
import type { ParseArgsOptionsConfig } from 'node:util'
import type { CommandContext } from '../../cli/command.ts'
import { RokError, isRokError } from '../../../protocol/errors.ts'
import type { RegistryClient } from '../../../registry/client.ts'

export const REGISTRY_OPTIONS: ParseArgsOptionsConfig = {
  registry: { type: 'string' },
  token: { type: 'string' }
}

export const REGISTRY_OPTION_HELP: Record<string, string> = {
  registry: 'registry URL (default: $ROK_REGISTRY_URL, or the one saved by rok login)',
  token: 'API token (default: $ROK_REGISTRY_TOKEN, or the one saved by rok login)'
}

export async function registryClient (ctx: CommandContext, opts: { needToken?: boolean } = {}): Promise<RegistryClient> {
  const { createRegistryClient } = await import('../../../registry/client.ts')
  const { loadCredentials } = await import('../../../registry/credentials.ts')
  const saved = await loadCredentials(ctx.home)
  const url = str(ctx.options.registry) ?? ctx.env.ROK_REGISTRY_URL ?? saved?.url
  const token = str(ctx.options.token) ?? ctx.env.ROK_REGISTRY_TOKEN ?? (saved !== null && saved.url === url ? saved.token : undefined)
  if (url === undefined) {
    throw new RokError('ERR_NOT_LOGGED_IN', "no registry configured: run 'rok login URL --token T' or pass --registry URL")
  }
  if (opts.needToken === true && token === undefined) {
    throw new RokError('ERR_NOT_LOGGED_IN', `no token for ${url}: run 'rok login ${url} --token T' or pass --token T`)
  }
  return explainOutage(createRegistryClient({ url, token }))
}

/**
 * The registry is never on the data path: when it cannot be reached, say what waits for
 * it (these verbs: ACL, group and bucket changes, search) and what does not.
 */
function explainOutage (client: RegistryClient): RegistryClient {
  const wrapped: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(client)) {
    wrapped[name] = typeof value !== 'function'
      ? value
      : async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>)(...args)
        } catch (err) {
          if (isRokError(err, 'ERR_REGISTRY_UNAVAILABLE')) {
            throw new RokError(err.code, `${err.message}: ACL, group and bucket changes wait for it (nodes keep serving, syncing and restoring meanwhile)`, { cause: err, details: err.details })
          }
          throw err
        }
      }
  }
  return wrapped as unknown as RegistryClient
}

export function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}
