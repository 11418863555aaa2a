import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { withEngine } from './engine.ts'
import { parseBucketName } from '../../../protocol/bucket-name.ts'
import { RokError } from '../../../protocol/errors.ts'

export const log: Command = {
  name: 'log',
  summary: 'list the versions of a bucket (or all local buckets)',
  usage: 'log [GROUP/NAME]',
  positionals: [0, 1],
  async run (ctx) {
    await withEngine(ctx, async e => {
      if (ctx.args.length === 0) {
        const buckets = await e.buckets.list()
        ctx.out.result(buckets, (list: typeof buckets) => {
          if (list.length === 0) ctx.out.line('no buckets yet: rok snapshot PATH --bucket group/name')
          for (const b of list) ctx.out.line(`${b.bucket}  ${b.versions} version${b.versions === 1 ? '' : 's'}, latest @${b.head} ${new Date(b.updatedAt).toISOString()}`)
        })
        return
      }
      const bucket = ctx.args[0]
      parseBucketName(bucket)
      const versions: Array<{ bucket: string, seq: number, cid: string, root: string, kind: string, size: number, createdAt: string, publisher: string, message: string }> = []
      for await (const v of e.buckets.log(bucket)) {
        versions.push({ bucket, seq: v.seq, cid: v.cid.toString(), root: v.record.root.toString(), kind: v.record.kind, size: v.record.size, createdAt: new Date(v.record.createdAt).toISOString(), publisher: v.record.publisher, message: v.record.message })
      }
      if (versions.length === 0) throw new RokError('ERR_BUCKET_NOT_FOUND', `bucket ${bucket} has no versions here; 'rok log' lists local buckets`)
      ctx.out.result(versions, (list: typeof versions) => {
        for (const v of list) {
          ctx.out.line(`${v.bucket}@${v.seq}  ${v.createdAt}  ${formatBytes(v.size)} ${v.kind}  ${v.cid}`)
          if (v.message !== '') ctx.out.line(`    ${v.message}`)
        }
      })
    })
  }
}
