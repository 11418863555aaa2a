import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { withNode } from './engine.ts'
import { parseBucketName } from '../../../protocol/bucket-name.ts'

export const log: Command = {
  name: 'log',
  summary: 'list the versions of a bucket (or all local buckets)',
  usage: 'log [GROUP/NAME]',
  positionals: [0, 1],
  async run (ctx) {
    if (ctx.args.length === 0) {
      const buckets = await withNode(ctx, async node => await node.buckets())
      ctx.out.result(buckets, (list: typeof buckets) => {
        if (list.length === 0) ctx.out.line('no buckets yet: rok snapshot PATH --bucket group/name')
        for (const b of list) ctx.out.line(`${b.bucket}  ${b.versions} version${b.versions === 1 ? '' : 's'}, latest @${b.head} ${new Date(b.updatedAt).toISOString()}`)
      })
      return
    }
    parseBucketName(ctx.args[0])
    const versions = await withNode(ctx, async node => await node.versions(ctx.args[0]))
    ctx.out.result(versions, (list: typeof versions) => {
      for (const v of list) {
        ctx.out.line(`${v.bucket}@${v.seq}  ${v.createdAt}  ${formatBytes(v.size)} ${v.kind}  ${v.cid}`)
        if (v.message !== '') ctx.out.line(`    ${v.message}`)
      }
    })
  }
}
