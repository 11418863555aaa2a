/** The registry verbs, added to `rok`'s verb table as one group. */
import type { Command } from '../../cli/command.ts'
import { registry } from './registry.ts'
import { login } from './login.ts'
import { user } from './user.ts'
import { group } from './group.ts'
import { bucket } from './bucket.ts'
import { search } from './search.ts'

export const registryVerbs: Command[] = [search, login, registry, user, group, bucket]
