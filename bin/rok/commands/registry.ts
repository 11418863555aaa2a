import type { Command } from '../../cli/command.ts'
import { RokError } from '../../../protocol/errors.ts'
import { str } from './registry-session.ts'

const start: Command = {
  name: 'start',
  summary: 'run the registry service in the foreground',
  usage: 'start [--data DIR] [--listen HOST:PORT] [--admin-token T]',
  description: `
Runs the federated registry (users, groups, ACLs, buckets, version references, grants,
search) until interrupted; Ctrl-C or SIGTERM shuts it down gracefully. The first start
creates the 'admin' user and prints its token once, unless --admin-token or
$ROK_ADMIN_TOKEN provides it. OpenAPI document at /docs, Prometheus metrics at /metrics.

Example: rok registry start --listen 0.0.0.0:7447 --data /var/lib/rok-registry`,
  positionals: 0,
  options: {
    data: { type: 'string' },
    listen: { type: 'string' },
    'admin-token': { type: 'string' },
    'log-level': { type: 'string' },
    'rate-limit': { type: 'string' },
    'grant-ttl': { type: 'string' },
    'provider-ttl': { type: 'string' }
  },
  optionHelp: {
    data: 'database folder (default HOME/registry)',
    listen: 'address to listen on (default 127.0.0.1:7447)',
    'admin-token': 'admin token to install (default $ROK_ADMIN_TOKEN, else generated on first start)',
    'log-level': 'fatal, error, warn, info, debug (default info); logs are JSON on stderr',
    'rate-limit': 'requests per minute per client (default 600; login: 10); 0 turns limiting off',
    'grant-ttl': 'grant lifetime in seconds (default 600): a revoked right stops working within it',
    'provider-ttl': 'seconds a node stays listed as a provider without refreshing (default 3600); nodes refresh every third of it'
  },
  async run (ctx) {
    const { join, resolve } = await import('node:path')
    const { startRegistryServer, parseListen } = await import('../../../registry/server.ts')
    const { host, port } = parseListen(str(ctx.options.listen) ?? '127.0.0.1:7447')
    const level = str(ctx.options['log-level']) ?? 'info'
    if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) {
      throw new RokError('ERR_USAGE', `--log-level ${level} is not one of fatal, error, warn, info, debug`)
    }
    const limitText = str(ctx.options['rate-limit'])
    if (limitText !== undefined && !/^[0-9]{1,9}$/.test(limitText)) throw new RokError('ERR_USAGE', `--rate-limit ${limitText} is not a number of requests per minute`)
    const ttlText = str(ctx.options['grant-ttl'])
    if (ttlText !== undefined && (!/^[0-9]{1,6}$/.test(ttlText) || Number(ttlText) < 10)) throw new RokError('ERR_USAGE', `--grant-ttl ${ttlText} is not a number of seconds of at least 10`)
    const providerTtlText = str(ctx.options['provider-ttl'])
    if (providerTtlText !== undefined && (!/^[0-9]{1,7}$/.test(providerTtlText) || Number(providerTtlText) < 30)) throw new RokError('ERR_USAGE', `--provider-ttl ${providerTtlText} is not a number of seconds of at least 30`)
    const registry = await startRegistryServer({
      grantTtlMs: ttlText === undefined ? undefined : Number(ttlText) * 1000,
      providerTtlMs: providerTtlText === undefined ? undefined : Number(providerTtlText) * 1000,
      rateLimit: limitText === undefined ? undefined : limitText === '0' ? false : { max: Number(limitText) },
      dataDir: resolve(str(ctx.options.data) ?? join(ctx.home, 'registry')),
      adminToken: str(ctx.options['admin-token']) ?? ctx.env.ROK_ADMIN_TOKEN,
      host,
      port,
      logger: { level, stream: process.stderr }
    })
    ctx.out.result({ url: registry.url, adminToken: registry.firstAdminToken }, (r: { url: string, adminToken: string | null }) => {
      ctx.out.line(`registry listening on ${r.url}`)
      if (r.adminToken !== null) ctx.out.line(`admin token (shown once, keep it safe): ${r.adminToken}`)
    })
    if (!ctx.signal.aborted) await new Promise(resolve => ctx.signal.addEventListener('abort', resolve, { once: true }))
    ctx.out.note('registry shutting down')
    await registry.close()
  }
}

export const registry: Command = {
  name: 'registry',
  summary: 'run the federated registry service',
  usage: 'registry start [options]',
  subcommands: [start]
}
