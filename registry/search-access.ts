/**
 * What a caller may read, in the form the search index asks it: one decision per group
 * and visibility (take all its buckets, skip them all, or ask bucket by bucket when a rule
 * names some of them), kept per user in a small table indexed by the index's group
 * number. A search passes over dozens of buckets it does not return; deciding each from
 * this table touches neither the bucket's record nor a string-keyed map.
 *
 * A table is good for one ACL `generation`: the first search after any policy change
 * (a member removed, a deny rule added) starts a new one, so a change takes effect on
 * the very next search.
 */
import { isAnonymous, type Caller } from './access.ts'
import type { Acl } from './acl.ts'
import { ASK, SKIP, TAKE, type Decision, type SearchIndex } from './search-index.ts'
import type { BucketDoc } from './state.ts'

/** Users whose tables are kept at once; all are dropped beyond this. */
const MAX_TABLES = 10_000

export interface ReadCheck {
  /** For a whole group (by index number) and visibility. */
  decide: (group: number, isPublic: boolean) => Decision
  /** For one bucket, when `decide` answers ASK. */
  accept: (doc: BucketDoc) => boolean
}

interface Table {
  generation: number
  /** Decision + 1 per (group × 2 + public); 0 when not decided yet. */
  decisions: Uint8Array
  /** The checks over this table, handed to every search of this generation. */
  check: ReadCheck
}

const everything: ReadCheck = { decide: () => TAKE, accept: () => true }

export class SearchAccess {
  private readonly acl: Acl
  private readonly index: SearchIndex<BucketDoc>
  private readonly tables = new Map<string, Table>()

  constructor (acl: Acl, index: SearchIndex<BucketDoc>) {
    this.acl = acl
    this.index = index
  }

  /** The caller's checks: at once (no promise to settle) while the ACL has not changed since the last search. */
  of (caller: Caller): ReadCheck | Promise<ReadCheck> {
    if (caller.admin) return everything
    const table = this.tables.get(caller.user)
    return table !== undefined && table.generation === this.acl.generation ? table.check : this.make(caller)
  }

  private async make (caller: Caller): Promise<ReadCheck> {
    const { acl, index } = this
    const { user } = caller
    // Read before awaiting: a change landing meanwhile makes the next search start over.
    const generation = acl.generation
    // Beyond public buckets, only the caller's groups and buckets named in a rule for
    // them can be readable: everything else is turned down without asking the ACL.
    const reach = isAnonymous(caller) ? null : await acl.reachOf(user)
    const t: Table = { generation, decisions: new Uint8Array(256), check: everything }
    const accept = (doc: BucketDoc): boolean =>
      (doc.visibility === 'public' || (reach !== null && (reach.groups.has(doc.group) || reach.buckets.has(doc.key)))) &&
      acl.can(user, doc.group, doc.key, 'read', doc.visibility)
    const decideGroup = (name: string, isPublic: boolean): Decision => {
      if (acl.namesBucketsIn(name)) return ASK
      if (!isPublic && (reach === null || !reach.groups.has(name))) return SKIP
      return acl.can(user, name, `${name}/*`, 'read', isPublic ? 'public' : 'private') ? TAKE : SKIP
    }
    const decide = (group: number, isPublic: boolean): Decision => {
      const slot = group * 2 + (isPublic ? 1 : 0)
      if (slot >= t.decisions.length) {
        const grown = new Uint8Array(Math.max(slot + 1, t.decisions.length * 2))
        grown.set(t.decisions)
        t.decisions = grown
      }
      let d = t.decisions[slot]
      if (d === 0) {
        d = decideGroup(index.groupName(group), isPublic) + 1
        t.decisions[slot] = d
      }
      return (d - 1) as Decision
    }
    t.check = { decide, accept }
    if (this.tables.size >= MAX_TABLES) this.tables.clear()
    this.tables.set(user, t)
    return t.check
  }
}
