/**
 * Every `rok` verb, in the order `rok --help` lists them. Each is loaded only when it runs
 * (see LazyCommand): a registry verb does not load the snapshot engine, libp2p or the S3
 * SDK, which saves ~0.4 s of CPU per call.
 */
import type { Command, LazyCommand } from '../../cli/command.ts'

const lazy = (name: string, load: () => Promise<Command>): LazyCommand => ({ name, load })

export const commands: LazyCommand[] = [
  lazy('init', async () => (await import('./init.ts')).init),
  lazy('snapshot', async () => (await import('./snapshot.ts')).snapshot),
  lazy('log', async () => (await import('./log.ts')).log),
  lazy('restore', async () => (await import('./restore.ts')).restore),
  lazy('diff', async () => (await import('./diff.ts')).diff),
  lazy('verify', async () => (await import('./verify.ts')).verify),
  lazy('forget', async () => (await import('./forget.ts')).forget),
  lazy('pin', async () => (await import('./forget.ts')).pin),
  lazy('unpin', async () => (await import('./forget.ts')).unpin),
  lazy('gc', async () => (await import('./gc.ts')).gc),
  lazy('policy', async () => (await import('./policy.ts')).policy),
  lazy('stats', async () => (await import('./stats.ts')).stats),
  lazy('tier', async () => (await import('./tier.ts')).tier),
  lazy('node', async () => (await import('./node.ts')).node),
  lazy('id', async () => (await import('./node.ts')).id),
  lazy('publish', async () => (await import('./sync.ts')).publish),
  lazy('subscribe', async () => (await import('./sync.ts')).subscribe),
  lazy('unsubscribe', async () => (await import('./sync.ts')).unsubscribe),
  lazy('sync', async () => (await import('./sync.ts')).sync),
  lazy('allow', async () => (await import('./sync.ts')).allow),
  lazy('deny', async () => (await import('./sync.ts')).deny),
  lazy('status', async () => (await import('./sync.ts')).status),
  lazy('search', async () => (await import('./search.ts')).search),
  lazy('login', async () => (await import('./login.ts')).login),
  lazy('registry', async () => (await import('./registry.ts')).registry),
  lazy('user', async () => (await import('./user.ts')).user),
  lazy('group', async () => (await import('./group.ts')).group),
  lazy('bucket', async () => (await import('./bucket.ts')).bucket),
  lazy('doctor', async () => (await import('./doctor.ts')).doctor)
]
