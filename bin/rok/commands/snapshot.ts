import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { resolve } from 'node:path'
import { withNode } from './engine.ts'
import { UsageError } from '../../cli/run.ts'

export const snapshot: Command = {
  name: 'snapshot',
  summary: 'snapshot a folder or block image as the next version of a bucket',
  usage: 'snapshot PATH --bucket GROUP/NAME [-m MESSAGE] [--ignore-inode]',
  description: `Cuts PATH into content-defined chunks, stores only the chunks the node does not have yet,
and records a signed version of the bucket. PATH is a folder (files, folders, symlinks, hard
links, modes and mtimes are kept) or an image file / block device.

Example:
  rok snapshot ./dataset --bucket acme/imagenet-small -m "first cut"`,
  options: {
    bucket: { type: 'string', short: 'b' },
    message: { type: 'string', short: 'm' },
    'ignore-inode': { type: 'boolean' }
  },
  optionHelp: {
    bucket: 'bucket to record the version in (group/name)',
    message: 'version message',
    'ignore-inode': "reuse unchanged files from the bucket's last version by size and times even if their inode changed (as restic's --ignore-inode; for copies and filesystems without stable inodes)"
  },
  positionals: 1,
  async run (ctx) {
    const bucket = ctx.options.bucket
    if (typeof bucket !== 'string') throw new UsageError('--bucket GROUP/NAME is required')
    const bar = ctx.out.progress('snapshot')
    const result = await withNode(ctx, async node => await node.snapshot(
      { path: resolve(ctx.args[0]), bucket, message: ctx.options.message as string | undefined, ...(ctx.options['ignore-inode'] === true ? { ignoreInode: true } : {}) },
      { signal: ctx.signal, onProgress: p => bar.update(p.bytes, p.total) }
    ))
    bar.done()
    ctx.out.result(result, r => {
      ctx.out.line(`${r.bucket}@${r.seq}  ${r.cid}`)
      ctx.out.line(`  ${r.kind === 'tree' ? `${r.files} files, ${r.dirs} folders, ` : ''}${formatBytes(r.size)} in ${r.chunks} chunks; new: ${r.newChunks} chunks, ${formatBytes(r.newBytes)} (${dedupPercent(r.size, r.newBytes)} deduplicated)`)
      ctx.out.line(`  ${(r.size / 1e6 / Math.max(r.seconds, 1e-6)).toFixed(0)} MB/s, ${r.seconds.toFixed(2)} s`)
    })
  }
}

export function dedupPercent (size: number, newBytes: number): string {
  if (size === 0) return '0%'
  return `${(100 * (1 - newBytes / size)).toFixed(1)}%`
}
