/** Groups and their members (owner, publisher, reader). */
import type { FastifyInstance } from 'fastify'
import type { Static } from 'typebox'
import { RokError } from '../../protocol/errors.ts'
import { API_PREFIX, CreateGroupBody, Group, GroupParams, MemberParams, SetMemberBody } from '../../protocol/registry-api.ts'
import { readableGroup, requireOnGroup, requireUser } from '../access.ts'
import { RegistryErrorCode, alreadyExists, notFound } from '../errors.ts'
import type { GroupRec } from '../state.ts'
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
