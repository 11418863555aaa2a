import type { Command } from '../../cli/command.ts'
import { formatBytes } from '../../cli/output.ts'
import { resolve } from 'node:path'
import { parseVersionRef } from '../../../protocol/bucket-name.ts'
import { withNode } from './engine.ts'

export const restore: Command = {
  name: 'restore',
  summary: 'write the exact bytes and metadata of a version into a new folder or file',
  usage: 'restore GROUP/NAME[@SEQ] DEST [--force]',
  description: `Restores version SEQ (default: the latest) of a bucket into DEST. Every chunk is verified
against its hash; a missing or corrupt chunk stops the restore and nothing is left at DEST.
DEST must not exist or be an empty folder, unless --force is given to replace it.

Example:
  rok restore acme/imagenet-small@3 ./restored`,
  options: { force: { type: 'boolean', short: 'f' } },
  optionHelp: { force: 'replace DEST if it exists and is not empty' },
  positionals: 2,
  async run (ctx) {
    parseVersionRef(ctx.args[0])
    const bar = ctx.out.progress('restore')
    const result = await withNode(ctx, async node => await node.restore(
      { version: ctx.args[0], dest: resolve(ctx.args[1]), force: ctx.options.force === true },
      { signal: ctx.signal, onProgress: p => bar.update(p.bytes, p.total) }
    ))
    bar.done()
    ctx.out.result(result, r => {
      ctx.out.line(`restored ${r.bucket}@${r.seq} to ${r.dest}: ${r.kind === 'tree' ? `${r.files} files, ${r.dirs} folders, ` : ''}${formatBytes(r.bytes)}`)
    })
  }
}
