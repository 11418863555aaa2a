/** Groups and their members (owner, publisher, reader). */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { RokError } from '../../protocol/errors.ts'
import { API_PREFIX, CreateGroupBody, Group, GroupParams, MemberParams, SetMemberBody, UpdateGroupBody } from '../../protocol/registry-api.ts'
import { readableGroup, requireOnGroup, requireUser } from '../access.ts'
import { RegistryErrorCode, alreadyExists, notFound } from '../errors.ts'
import { bucketKey, type BucketRec, type GroupRec } from '../state.ts'
import { groupView } from '../views.ts'
import { ERROR_RESPONSES, type RouteOptions } from './context.ts'

export async function groupRoutes (app: FastifyInstance, opts: RouteOptions): Promise<void> {
  const { state } = opts
  const show = async (group: GroupRec): Promise<Static<typeof Group>> => groupView(group, await state.acl.members(group.name))

  app.post<{ Body: Static<typeof CreateGroupBody> }>(`${API_PREFIX}/groups`, {
    schema: { summary: 'Create a group; the caller becomes its owner', tags: ['groups'], body: CreateGroupBody, response: { 201: Group, ...ERROR_RESPONSES } }
  }, async (request, reply) => {
    requireUser(request.caller)
    const { name, visibility } = request.body
    const owner = request.caller.user
    const group = await state.change(async tx => {
      if (state.groups.has(name)) throw alreadyExists(`group ${name}`)
      const rec: GroupRec = { name, visibility, description: request.body.description ?? '', createdAt: state.now() }
      tx.put('groups', name, rec)
      tx.acl(await state.acl.setMember(owner, name, 'owner'))
      tx.audit(owner, 'group.create', name, { visibility })
      tx.then(() => { state.groups.set(name, rec) })
      return rec
    })
    return reply.code(201).send(await show(group))
  })

  app.get<{ Params: Static<typeof GroupParams> }>(`${API_PREFIX}/groups/:group`, {
    schema: { summary: 'A group and its members', tags: ['groups'], params: GroupParams, response: { 200: Group, ...ERROR_RESPONSES } }
  }, async (request) => show(readableGroup(state, request.caller, request.params.group)))

  app.patch<{ Params: Static<typeof GroupParams>, Body: Static<typeof UpdateGroupBody> }>(`${API_PREFIX}/groups/:group`, {
    schema: {
      summary: "Change a group's visibility or description (group owners)",
      description: 'Making a group private makes its public buckets private in the same change. Making it public exposes no existing bucket: open them one by one with PATCH /v1/buckets/{group}/{name}.',
      tags: ['groups'],
      params: GroupParams,
      body: UpdateGroupBody,
      response: { 200: Group, ...ERROR_RESPONSES }
    }
  }, async (request) => {
    const group = readableGroup(state, request.caller, request.params.group)
    requireOnGroup(state, request.caller, group, 'admin')
    const body = request.body
    const updated = await state.change(tx => {
      const current = state.groups.get(group.name)!
      const next: GroupRec = { ...current, visibility: body.visibility ?? current.visibility, description: body.description ?? current.description }
      const closed: BucketRec[] = []
      if (next.visibility === 'private' && current.visibility === 'public') {
        const now = state.now()
        for (const b of state.buckets.values()) {
          if (b.group === group.name && b.visibility === 'public') closed.push({ ...b, visibility: 'private', updatedAt: now })
        }
      }
      tx.put('groups', next.name, next)
      for (const b of closed) tx.put('buckets', bucketKey(b.group, b.name), b)
      tx.audit(request.caller.user, 'group.update', next.name, { ...body, previous: current.visibility, bucketsMadePrivate: closed.map(b => b.name) })
      tx.then(() => {
        state.groups.set(next.name, next)
        for (const b of closed) state.setBucket(b)
      })
      return next
    })
    return await show(updated)
  })

  app.put<{ Params: Static<typeof MemberParams>, Body: Static<typeof SetMemberBody> }>(`${API_PREFIX}/groups/:group/members/:user`, {
    schema: { summary: "Add a member or change their role (group owners)", tags: ['groups'], params: MemberParams, body: SetMemberBody, response: { 200: Group, ...ERROR_RESPONSES } }
  }, async (request) => {
    const group = readableGroup(state, request.caller, request.params.group)
    requireOnGroup(state, request.caller, group, 'admin')
    const { user } = request.params
    const { role } = request.body
    await state.change(async tx => {
      if (!state.users.has(user)) throw notFound(`user ${user}`)
      const old = await state.acl.roleOf(user, group.name)
      if (old === role) return
      if (old === 'owner') await refuseLastOwner(group.name, user)
      tx.acl(await state.acl.setMember(user, group.name, role))
      tx.audit(request.caller.user, 'group.member.set', group.name, { user, role, previous: old ?? null })
    })
    return await show(group)
  })

  app.delete<{ Params: Static<typeof MemberParams> }>(`${API_PREFIX}/groups/:group/members/:user`, {
    schema: { summary: 'Remove a member (group owners)', tags: ['groups'], params: MemberParams, response: { 200: Group, ...ERROR_RESPONSES } }
  }, async (request) => {
    const group = readableGroup(state, request.caller, request.params.group)
    requireOnGroup(state, request.caller, group, 'admin')
    const { user } = request.params
    await state.change(async tx => {
      const old = await state.acl.roleOf(user, group.name)
      if (old === undefined) throw notFound(`member ${user} of group ${group.name}`)
      if (old === 'owner') await refuseLastOwner(group.name, user)
      tx.acl(await state.acl.removeMember(user, group.name))
      tx.audit(request.caller.user, 'group.member.remove', group.name, { user, previous: old })
    })
    return await show(group)
  })

  async function refuseLastOwner (group: string, user: string): Promise<void> {
    const owners = (await state.acl.members(group)).filter(m => m.role === 'owner')
    if (owners.length === 1 && owners[0].user === user) {
      throw new RokError(RegistryErrorCode.LAST_OWNER, `${user} is the last owner of group ${group}; make someone else owner first`)
    }
  }
}
