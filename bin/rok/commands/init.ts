import type { Command } from '../../cli/command.ts'
import { ensureHome } from '../../../node/home.ts'
import { withNode } from './engine.ts'

export const init: Command = {
  name: 'init',
  summary: 'create a node home (identity, chunk store, buckets)',
  usage: 'init',
  description: 'Creates the node home (--home, $ROK_HOME or ~/.rok) with a new Ed25519 identity. Running it again on an existing home changes nothing.',
  positionals: 0,
  async run (ctx) {
    const created = await ensureHome(ctx.home, true)
    const peerId = await withNode(ctx, async node => await node.peerId())
    ctx.out.result({ home: ctx.home, peerId, created }, r => {
      ctx.out.line(`${r.created ? 'Initialized' : 'Already initialized:'} Rok home ${r.home}`)
      ctx.out.line(`peer ID ${r.peerId}`)
    })
  }
}
