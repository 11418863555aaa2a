/** Records as the API shows them (times as ISO strings, keys spelled out). */
import type { Bucket, Group, Member, NodeInfo, Provider, TokenInfo, VersionRef, AuditEntry } from '../protocol/registry-api.ts'
import { bucketKey, type AuditRec, type BucketRec, type GroupRec, type NodeRec, type ProviderRec, type TokenRec, type VersionRec } from './state.ts'

const iso = (ms: number): string => new Date(ms).toISOString()

// Bucket records are replaced, never mutated, on every change, so a view computed once per
// record stays right; search shows the same buckets over and over.
const bucketViews = new WeakMap<BucketRec, Bucket>()

export function bucketView (b: BucketRec): Bucket {
  let view = bucketViews.get(b)
  if (view === undefined) {
    view = makeBucketView(b)
    bucketViews.set(b, view)
  }
  return view
}

/**
 * A bucket as a search hit, up to its score: its JSON made by `serialize` (the response
 * schema's serializer) without the closing brace, then `,"score":`. Search keeps it with
 * the bucket's document (`BucketDoc.hitHead`): it sends the same buckets over and over.
 */
export function searchHitHead (b: BucketRec, serialize: (b: Bucket) => string): string {
  const head = `${serialize(bucketView(b)).slice(0, -1)},"score":`
  head.charCodeAt(0) // flattens the concatenation once, not on every response
  return head
}

function makeBucketView (b: BucketRec): Bucket {
  return {
    bucket: bucketKey(b.group, b.name),
    group: b.group,
    name: b.name,
    description: b.description,
    tags: b.tags,
    visibility: b.visibility,
    createdAt: iso(b.createdAt),
    updatedAt: iso(b.updatedAt),
    latestSeq: b.latestSeq
  }
}

export function groupView (g: GroupRec, members: Member[]): Group {
  return { name: g.name, visibility: g.visibility, description: g.description, createdAt: iso(g.createdAt), members }
}

export function versionView (bucket: string, v: VersionRec): VersionRef {
  return {
    bucket,
    seq: v.seq,
    cid: v.cid,
    root: v.root,
    parent: v.parent,
    kind: v.kind,
    size: v.size,
    publisher: v.publisher,
    createdAt: v.createdAt,
    message: v.message,
    signature: v.signature,
    recordedAt: iso(v.recordedAt)
  }
}

export function tokenView (t: TokenRec): TokenInfo {
  return {
    id: t.id,
    user: t.user,
    createdAt: iso(t.createdAt),
    lastUsedAt: t.lastUsedAt === null ? null : iso(t.lastUsedAt),
    revokedAt: t.revokedAt === null ? null : iso(t.revokedAt)
  }
}

export function nodeView (n: NodeRec): NodeInfo {
  return { peer: n.peer, user: n.user, addresses: n.addresses, registeredAt: iso(n.registeredAt) }
}

export function providerView (p: ProviderRec, node: NodeRec | undefined): Provider {
  return { peer: p.peer, addresses: node?.addresses ?? [], seq: p.seq, updatedAt: iso(p.updatedAt) }
}

export function auditView (a: AuditRec): AuditEntry {
  return { at: iso(a.at), actor: a.actor, action: a.action, target: a.target, details: a.details }
}
