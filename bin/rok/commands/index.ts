/** Every `rok` verb, in the order `rok --help` lists them. */
import type { Command } from '../../cli/command.ts'
import { init } from './init.ts'
import { snapshot } from './snapshot.ts'
import { log } from './log.ts'
import { restore } from './restore.ts'
import { diff } from './diff.ts'
import { verify } from './verify.ts'
import { gc } from './gc.ts'
import { forget, pin, unpin } from './forget.ts'
import { policy } from './policy.ts'
import { stats } from './stats.ts'
import { node, id } from './node.ts'
import { registryVerbs } from './registry-verbs.ts'
import { syncVerbs } from './sync.ts'
import { doctor } from './doctor.ts'
import { tier } from './tier.ts'

export const commands: Command[] = [
  init, snapshot, log, restore, diff, verify, forget, pin, unpin, gc, policy, stats, tier, node, id,
  ...syncVerbs,
  ...registryVerbs,
  doctor,
]
