/**
 * The ACL's memoized decisions must always equal what casbin decides from the persisted
 * policy: after any sequence of membership and rule changes, a fresh enforcer loaded
 * from `level` (through the adapter) agrees with the long-lived one on every request.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Acl, ANONYMOUS, type Action, type PolicyChange } from '../../registry/acl.ts'
import { RegistryStore } from '../../registry/store.ts'

const USERS = ['ann', 'ben', 'cat', ANONYMOUS]
const GROUPS = ['g1', 'g2']
const BUCKETS = ['g1/a', 'g1/b', 'g2/a']
const ACTS: Action[] = ['read', 'publish', 'admin']

const op = fc.oneof(
  fc.record({ kind: fc.constant('member' as const), user: fc.constantFrom('ann', 'ben', 'cat'), group: fc.constantFrom(...GROUPS), role: fc.constantFrom('owner' as const, 'publisher' as const, 'reader' as const) }),
  fc.record({ kind: fc.constant('leave' as const), user: fc.constantFrom('ann', 'ben', 'cat'), group: fc.constantFrom(...GROUPS) }),
  fc.record({
    kind: fc.constantFrom('rule' as const, 'unrule' as const),
    bucket: fc.constantFrom(...BUCKETS),
    subject: fc.constantFrom('user:ann', 'user:ben', 'user:cat', 'group:g1', 'group:g2'),
    right: fc.constantFrom('read' as const, 'publish' as const),
    effect: fc.constantFrom('allow' as const, 'deny' as const)
  })
)

function decisions (acl: Acl): string {
  const out: string[] = []
  for (const user of USERS) {
    for (const bucket of BUCKETS) {
      for (const act of ACTS) {
        for (const vis of ['public', 'private'] as const) out.push(acl.can(user, bucket.split('/')[0], bucket, act, vis) ? '1' : '0')
      }
    }
    for (const group of GROUPS) for (const act of ACTS) out.push(acl.can(user, group, `${group}/*`, act, 'private') ? '1' : '0')
    for (const group of GROUPS) out.push(acl.namesBucketsIn(group) ? 'r' : '-')
    // Search decides a group's buckets once, from the group, unless a rule names one of them.
    for (const bucket of BUCKETS) {
      const group = bucket.split('/')[0]
      if (acl.namesBucketsIn(group)) continue
      for (const vis of ['public', 'private'] as const) assert.equal(acl.can(user, group, bucket, 'read', vis), acl.can(user, group, `${group}/*`, 'read', vis), `${user} reads ${bucket} (${vis}) like its group`)
    }
  }
  return out.join('')
}

test('memoized ACL decisions equal a fresh enforcer loaded from level after any change sequence', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rok-acl-test-'))
  const store = await RegistryStore.open(dir)
  let run = 0
  try {
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
      // Each run uses its own key prefix-free world: clear the policy space first.
      const keys: string[] = []
      for await (const [k] of store.entries('policy')) keys.push(k)
      await store.write(keys.map(key => ({ type: 'del' as const, space: 'policy' as const, key })))
      run++
      const acl = await Acl.open(store)
      decisions(acl) // warm the memo
      for (const o of ops) {
        let change: PolicyChange
        if (o.kind === 'member') change = await acl.setMember(o.user, o.group, o.role)
        else if (o.kind === 'leave') change = await acl.removeMember(o.user, o.group)
        else if (o.kind === 'rule') change = acl.addRule(o.bucket.split('/')[0], o.bucket, o)
        else change = acl.removeRule(o.bucket.split('/')[0], o.bucket, o)
        await store.write(change.ops)
        await change.apply()
        const fresh = await Acl.open(store)
        assert.equal(decisions(acl), decisions(fresh), `after ${JSON.stringify(o)}`)
      }
    }), { numRuns: 60 })
    assert.equal(run >= 60, true)
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test('explicit deny wins over a role, and a group rule reaches that group\'s members only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rok-acl-test-'))
  const store = await RegistryStore.open(dir)
  try {
    const acl = await Acl.open(store)
    const apply = async (c: PolicyChange | Promise<PolicyChange>): Promise<void> => { const ch = await c; await store.write(ch.ops); await ch.apply() }
    await apply(acl.setMember('ann', 'g1', 'owner'))
    await apply(acl.setMember('ben', 'g2', 'reader'))
    assert.equal(acl.can('ann', 'g1', 'g1/a', 'read', 'private'), true)
    await apply(acl.addRule('g1', 'g1/a', { subject: 'user:ann', right: 'read', effect: 'deny' }))
    assert.equal(acl.can('ann', 'g1', 'g1/a', 'read', 'private'), false)
    assert.equal(acl.can('ann', 'g1', 'g1/b', 'read', 'private'), true)
    assert.equal(acl.can('ben', 'g1', 'g1/b', 'read', 'private'), false)
    await apply(acl.addRule('g1', 'g1/b', { subject: 'group:g2', right: 'read', effect: 'allow' }))
    assert.equal(acl.can('ben', 'g1', 'g1/b', 'read', 'private'), true)
    assert.equal(acl.can('cat', 'g1', 'g1/b', 'read', 'private'), false)
    assert.equal(acl.can(ANONYMOUS, 'g1', 'g1/b', 'read', 'public'), true)
    assert.equal(acl.can(ANONYMOUS, 'g1', 'g1/b', 'publish', 'public'), false)
  } finally {
    await store.close()
    await rm(dir, { recursive: true, force: true })
  }
})
