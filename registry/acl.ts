/**
 * Access control: a casbin enforcer, RBAC with domains where the domain is the group.
 *
 * - Membership: `g, USER, role:ROLE, GROUP` (owner, publisher, reader), mirrored as
 *   `g2, USER, group:GROUP` so per-bucket rules can name a whole group as the subject.
 * - Role rights are domain-wide policies `p, role:ROLE, *, *, ACT, allow`.
 * - Per-bucket rules: `p, USER | group:G, GROUP, GROUP/NAME, read|publish, allow|deny`.
 * - Public things: `p, role:everyone, *, *, read, allow`, matched only when the request
 *   says the object is public, so visibility stays a property of the group or bucket.
 * - Explicit deny wins over every allow (the policy effect below).
 *
 * Objects are `*` or one exact bucket `GROUP/NAME`; the cheap comparisons come first in
 * the matcher because casbin evaluates it for every policy line.
 *
 * Names cannot contain ':', so `role:*`, `group:*` and `anonymous:` never collide with a
 * user. Policy lines persist in `level` through `LevelPolicyAdapter`; the registry writes
 * them in the same batch as the state change they belong to, then applies them here.
 */
import { newEnforcer, newModelFromString, type Adapter, type Enforcer, type Model } from 'casbin'
import type { RegistryStore, StoreOp } from './store.ts'
import type { Effect, Right, Role, Visibility } from '../protocol/registry-api.ts'

export type Action = 'read' | 'publish' | 'admin'
export const ANONYMOUS = 'anonymous:'

const MODEL = `
[request_definition]
r = sub, dom, obj, act, vis

[policy_definition]
p = sub, dom, obj, act, eft

[role_definition]
g = _, _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && (p.dom == "*" || p.dom == r.dom) && (p.obj == "*" || p.obj == r.obj) && ((p.sub == "role:everyone" && r.vis == "public") || g(r.sub, p.sub, r.dom) || g2(r.sub, p.sub))
`

export const ROLE_RIGHTS: Record<Role, Action[]> = {
  owner: ['read', 'publish', 'admin'],
  publisher: ['read', 'publish'],
  reader: ['read']
}

const BASE_POLICIES: string[][] = [
  ...Object.entries(ROLE_RIGHTS).flatMap(([role, acts]) => acts.map(act => [`role:${role}`, '*', '*', act, 'allow'])),
  ['role:everyone', '*', '*', 'read', 'allow']
]

const SEP = '\u0000'

function policyKey (ptype: string, rule: string[]): string {
  return [ptype, ...rule].join(SEP)
}

/** casbin adapter over the registry store's `policy` space; one key per policy line. */
export class LevelPolicyAdapter implements Adapter {
  private readonly store: RegistryStore

  constructor (store: RegistryStore) {
    this.store = store
  }

  static op (type: 'put' | 'del', ptype: string, rule: string[]): StoreOp {
    return type === 'put'
      ? { type, space: 'policy', key: policyKey(ptype, rule), value: [ptype, ...rule] }
      : { type, space: 'policy', key: policyKey(ptype, rule) }
  }

  async loadPolicy (model: Model): Promise<void> {
    for await (const [, line] of this.store.entries('policy')) {
      const [ptype, ...rule] = line as string[]
      model.addPolicy(ptype.startsWith('g') ? 'g' : 'p', ptype, rule)
    }
  }

  async savePolicy (model: Model): Promise<boolean> {
    const ops: StoreOp[] = []
    for await (const [key] of this.store.entries('policy')) ops.push({ type: 'del', space: 'policy', key })
    for (const sec of ['p', 'g']) {
      for (const [ptype, assertion] of model.model.get(sec) ?? new Map()) {
        for (const rule of assertion.policy) ops.push(LevelPolicyAdapter.op('put', ptype, rule))
      }
    }
    await this.store.write(ops)
    return true
  }

  async addPolicy (_sec: string, ptype: string, rule: string[]): Promise<void> {
    await this.store.write([LevelPolicyAdapter.op('put', ptype, rule)])
  }

  async removePolicy (_sec: string, ptype: string, rule: string[]): Promise<void> {
    await this.store.write([LevelPolicyAdapter.op('del', ptype, rule)])
  }

  async removeFilteredPolicy (_sec: string, ptype: string, fieldIndex: number, ...fieldValues: string[]): Promise<void> {
    const ops: StoreOp[] = []
    for await (const [key, line] of this.store.entries('policy')) {
      const [pt, ...rule] = line as string[]
      if (pt === ptype && fieldValues.every((v, i) => v === '' || rule[fieldIndex + i] === v)) ops.push({ type: 'del', space: 'policy', key })
    }
    await this.store.write(ops)
  }
}

/** A change to the policy: level ops to write in the caller's batch, then `apply` in memory. */
export interface PolicyChange {
  ops: StoreOp[]
  apply: () => Promise<void>
}

export interface BucketRule {
  subject: string
  right: Right
  effect: Effect
}

/** Memoized decisions kept at once; the memo is dropped whole on any policy change. */
const MAX_DECISIONS = 200_000

export class Acl {
  private readonly enforcer: Enforcer
  /**
   * casbin evaluates its matcher against every policy line (50–100 µs a decision), too slow
   * for a search that checks a page of buckets per request. Decisions are pure functions of
   * the policy and the request, so they are memoized and the memo is cleared whenever the
   * policy changes. A bucket that no rule names is decided exactly like its group's `G/*`
   * placeholder (only `*` policies can match either), so those share one memo entry per
   * (caller, group, action, visibility) instead of one per bucket.
   */
  private readonly decisions = new Map<string, boolean>()
  /** bucket → number of rules naming it */
  private ruled = new Map<string, number>()
  /** groups with a bucket that a rule names */
  private ruledGroups = new Set<string>()
  /** user → their groups, and the buckets allow rules name for them (search pre-filter) */
  private readonly reach = new Map<string, { groups: Set<string>, buckets: Set<string> }>()
  /**
   * Counts policy changes: whatever a caller derived from decisions (search's tables of
   * readable groups) is good while this stays the same.
   */
  generation = 0

  private constructor (enforcer: Enforcer) {
    this.enforcer = enforcer
  }

  private async policyChanged (): Promise<void> {
    // Build the new rule count before swapping it in: a request in between must never
    // see an empty one (it would decide a bucket with a deny rule like its group).
    const ruled = new Map<string, number>()
    const ruledGroups = new Set<string>()
    for (const [sub, dom, obj] of await this.enforcer.getPolicy()) {
      if (obj !== '*' && !sub.startsWith('role:')) {
        ruled.set(obj, (ruled.get(obj) ?? 0) + 1)
        ruledGroups.add(dom)
      }
    }
    this.ruled = ruled
    this.ruledGroups = ruledGroups
    this.decisions.clear()
    this.reach.clear()
    this.generation++
  }

  static async open (store: RegistryStore): Promise<Acl> {
    const adapter = new LevelPolicyAdapter(store)
    const enforcer = await newEnforcer(newModelFromString(MODEL), adapter)
    // Writes go into the same level batch as the state they belong to (see PolicyChange).
    enforcer.enableAutoSave(false)
    const acl = new Acl(enforcer)
    const missing: string[][] = []
    for (const p of BASE_POLICIES) if (!(await enforcer.hasPolicy(...p))) missing.push(p)
    if (missing.length > 0) {
      await store.write(missing.map(p => LevelPolicyAdapter.op('put', 'p', p)))
      await enforcer.addPolicies(missing)
    }
    await acl.policyChanged()
    return acl
  }

  /** May `user` (or ANONYMOUS) do `act` on `obj` (`G/N`, or `G/*` for the group) in `group`? */
  can (user: string, group: string, obj: string, act: Action, visibility: Visibility): boolean {
    const asked = this.ruled.has(obj) ? obj : `${group}/*`
    const key = `${user}\0${group}\0${asked}\0${act}\0${visibility}`
    let allowed = this.decisions.get(key)
    if (allowed === undefined) {
      allowed = this.enforcer.enforceSync(user, group, asked, act, visibility)
      if (this.decisions.size >= MAX_DECISIONS) this.decisions.clear()
      this.decisions.set(key, allowed)
    }
    return allowed
  }

  /**
   * Whether a rule names one of `group`'s buckets. When none does, every bucket of the
   * group is decided like the group (`G/*`), which search decides once per group.
   */
  namesBucketsIn (group: string): boolean {
    return this.ruledGroups.has(group)
  }

  async roleOf (user: string, group: string): Promise<Role | undefined> {
    for (const role of ['owner', 'publisher', 'reader'] as const) {
      if (await this.enforcer.hasNamedGroupingPolicy('g', user, `role:${role}`, group)) return role
    }
    return undefined
  }

  async members (group: string): Promise<Array<{ user: string, role: Role }>> {
    return (await this.enforcer.getFilteredNamedGroupingPolicy('g', 2, group))
      .map(([user, role]) => ({ user, role: role.slice('role:'.length) as Role }))
      .sort((a, b) => a.user < b.user ? -1 : a.user > b.user ? 1 : 0)
  }

  /**
   * The groups `user` belongs to and the buckets named in an allow rule for them or one
   * of their groups: a superset of what they may read beyond public buckets, which search
   * uses to skip everything else before asking `can`. Memoized like decisions.
   */
  async reachOf (user: string): Promise<{ groups: Set<string>, buckets: Set<string> }> {
    let r = this.reach.get(user)
    if (r === undefined) {
      const groups = new Set((await this.enforcer.getFilteredNamedGroupingPolicy('g2', 0, user)).map(([, g]) => g.slice('group:'.length)))
      const buckets = new Set<string>()
      for (const [sub, , obj, , eft] of await this.enforcer.getPolicy()) {
        if (eft !== 'allow' || sub.startsWith('role:')) continue
        if (sub === user || (sub.startsWith('group:') && groups.has(sub.slice('group:'.length)))) buckets.add(obj)
      }
      r = { groups, buckets }
      if (this.reach.size >= MAX_DECISIONS) this.reach.clear()
      this.reach.set(user, r)
    }
    return r
  }

  async setMember (user: string, group: string, role: Role): Promise<PolicyChange> {
    const old = await this.roleOf(user, group)
    const ops: StoreOp[] = []
    if (old !== undefined) ops.push(LevelPolicyAdapter.op('del', 'g', [user, `role:${old}`, group]))
    ops.push(LevelPolicyAdapter.op('put', 'g', [user, `role:${role}`, group]))
    ops.push(LevelPolicyAdapter.op('put', 'g2', [user, `group:${group}`]))
    return {
      ops,
      apply: async () => {
        if (old !== undefined) await this.enforcer.removeNamedGroupingPolicy('g', user, `role:${old}`, group)
        await this.enforcer.addNamedGroupingPolicy('g', user, `role:${role}`, group)
        if (!(await this.enforcer.hasNamedGroupingPolicy('g2', user, `group:${group}`))) await this.enforcer.addNamedGroupingPolicy('g2', user, `group:${group}`)
        await this.policyChanged()
      }
    }
  }

  async removeMember (user: string, group: string): Promise<PolicyChange> {
    const old = await this.roleOf(user, group)
    if (old === undefined) return { ops: [], apply: async () => {} }
    return {
      ops: [LevelPolicyAdapter.op('del', 'g', [user, `role:${old}`, group]), LevelPolicyAdapter.op('del', 'g2', [user, `group:${group}`])],
      apply: async () => {
        await this.enforcer.removeNamedGroupingPolicy('g', user, `role:${old}`, group)
        await this.enforcer.removeNamedGroupingPolicy('g2', user, `group:${group}`)
        await this.policyChanged()
      }
    }
  }

  /** Rule subjects are `user:NAME` or `group:NAME` in the API; casbin names users bare. */
  private static policyFor (group: string, bucket: string, rule: BucketRule): string[] {
    const sub = rule.subject.startsWith('user:') ? rule.subject.slice('user:'.length) : rule.subject
    return [sub, group, bucket, rule.right, rule.effect]
  }

  async hasRule (group: string, bucket: string, rule: BucketRule): Promise<boolean> {
    return await this.enforcer.hasPolicy(...Acl.policyFor(group, bucket, rule))
  }

  addRule (group: string, bucket: string, rule: BucketRule): PolicyChange {
    const p = Acl.policyFor(group, bucket, rule)
    return { ops: [LevelPolicyAdapter.op('put', 'p', p)], apply: async () => { await this.enforcer.addPolicy(...p); await this.policyChanged() } }
  }

  removeRule (group: string, bucket: string, rule: BucketRule): PolicyChange {
    const p = Acl.policyFor(group, bucket, rule)
    return { ops: [LevelPolicyAdapter.op('del', 'p', p)], apply: async () => { await this.enforcer.removePolicy(...p); await this.policyChanged() } }
  }

  async rules (bucket: string): Promise<BucketRule[]> {
    return (await this.enforcer.getFilteredPolicy(2, bucket)).map(([sub, , , right, effect]) => ({
      subject: sub.startsWith('group:') ? sub : `user:${sub}`,
      right: right as Right,
      effect: effect as Effect
    }))
  }
}
