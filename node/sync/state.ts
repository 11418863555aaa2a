/** Sync's persistent state in the home's db: allow lists, the reverse index, subscriptions, the registry link's outbox and grants. */
import type { Level } from 'level'
import { AllowList } from './allow.ts'
import type { KeyValue } from './kv.ts'
import { RefIndex } from './refs.ts'
import { Subscriptions } from './subscriptions.ts'

export interface SyncState {
  allow: AllowList
  refs: RefIndex
  subscriptions: Subscriptions
  /** Raw sublevels the registry link keeps (node/registry): its outbox and held grants. */
  registryOutbox: KeyValue
  registryGrants: KeyValue
}

export async function openSyncState (db: Level<string, string>): Promise<SyncState> {
  const sub = (name: string): KeyValue => db.sublevel<string, string>(name, { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as KeyValue
  return {
    allow: await AllowList.open(sub('allow')),
    refs: new RefIndex(sub('refs')),
    subscriptions: new Subscriptions(sub('subscriptions')),
    registryOutbox: sub('registry-outbox'),
    registryGrants: sub('registry-grants')
  }
}
