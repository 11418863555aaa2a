/**
 * The Rok registry: users, groups, ACLs, buckets, version references, nodes, grants and
 * search — references only, never chunk data, never on the data path.
 *
 * Terms: a *caller* is the user behind a request's token (or anonymous); a *rule* is a
 * per-bucket allow/deny of read or publish for a user or a group; a *provider* is a
 * registered node that holds a bucket's versions; a *grant* is the registry-signed
 * capability (protocol/grant.ts) a node shows its peers.
 *
 * `buildRegistry(init)` gives the fastify app (for `inject`), `startRegistryServer(init)`
 * runs it on a port, and `createRegistryClient(init)` is what nodes and the CLI use.
 */
export { buildRegistry, type Registry, type RegistryInit, type RateLimitInit } from './app.ts'
export { startRegistryServer, parseListen, type RunningRegistry, type ServerInit } from './server.ts'
export { createRegistryClient, type RegistryClient, type RegistryClientInit, type CallOptions } from './client.ts'
export { RegistryErrorCode, STATUS_BY_CODE } from './errors.ts'
