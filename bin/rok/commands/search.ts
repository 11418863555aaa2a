import type { Command } from '../../cli/command.ts'
import type { SearchResult } from '../../../protocol/registry-api.ts'
import { UsageError } from '../../cli/run.ts'
import { REGISTRY_OPTIONS, REGISTRY_OPTION_HELP, registryClient, str } from './registry-session.ts'

export const search: Command = {
  name: 'search',
  summary: 'find buckets in the registry (only those you may read)',
  usage: 'search [QUERY] [--group G] [--tag T] [--limit N] [--offset N]',
  description: "Full-text search over bucket names, groups, descriptions and tags; words match as prefixes ('image' finds imagenet). Example: rok search imagenet --group acme",
  positionals: [0, 1],
  options: { group: { type: 'string' }, tag: { type: 'string' }, visibility: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' }, ...REGISTRY_OPTIONS },
  optionHelp: { group: 'only this group', tag: 'only buckets with this tag', visibility: 'public or private', limit: 'results per page (1–100, default 20)', offset: 'skip this many results', ...REGISTRY_OPTION_HELP },
  async run (ctx) {
    const int = (name: string): number | undefined => {
      const v = str(ctx.options[name])
      if (v === undefined) return undefined
      if (!/^[0-9]{1,6}$/.test(v)) throw new UsageError(`--${name} ${v} is not a number`)
      return Number(v)
    }
    const visibility = str(ctx.options.visibility)
    if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') throw new UsageError(`--visibility ${visibility} is not public or private`)
    const client = await registryClient(ctx)
    const result = await client.search({
      q: ctx.args[0], group: str(ctx.options.group), tag: str(ctx.options.tag), visibility, limit: int('limit'), offset: int('offset')
    }, { signal: ctx.signal })
    ctx.out.result(result, (r: SearchResult) => {
      if (r.results.length === 0) ctx.out.line('no buckets found')
      for (const b of r.results) ctx.out.line(`${b.bucket.padEnd(40)} @${b.latestSeq}  ${b.visibility.padEnd(7)} ${b.tags.join(',')}${b.description !== '' ? `  ${b.description}` : ''}`)
      if (r.next !== null) ctx.out.line(`more: --offset ${r.next}`)
    })
  }
}
