/**
 * The node's registry link: how a node uses the registry without ever putting it on the
 * data path.
 *
 * Terms:
 * - **Pinned key**: the registry's grant-signing key, saved in the home on first contact
 *   (`registry-key.json`); grants are verified against it offline.
 * - **Registration**: at start the node proves its key to the registry (signed challenge)
 *   and records its addresses under the user's token (`rok login`).
 * - **Outbox**: version references a publish recorded locally but could not deliver yet;
 *   delivered in order, idempotently, with backoff, once the registry answers.
 * - **Held grant**: the grant a subscriber obtained (ACL checked by the registry), renewed
 *   at half its lifetime and presented to peers before fetching.
 * - **Peer grants**: grants peers presented over `/rok/grant/1.0.0`, verified and cached
 *   until expiry; with the allow list they decide what the node serves to whom.
 */
export { RegistryLink, type RegistryLinkInit, type ResolvedBucket } from './link.ts'
export { PeerGrants, type PeerGrantsInit } from './peer-grants.ts'
export { HeldGrants, type HeldGrant } from './held-grants.ts'
export { Outbox, type OutboxEntry, type DeliveryReport } from './outbox.ts'
export { serveGrants, presentGrant, GRANT_PROTOCOL } from './grant-push.ts'
export { loadPinnedKey, savePinnedKey } from './pin.ts'
export { RegistryLinkErrorCode, REGISTRY_LINK_ERROR_STATUS } from './errors.ts'
