/** Media types of the node API, apart from its schemas so that a client loads no schema library. */

/** Long operations answer with newline-delimited JSON: progress lines, then the result. */
export const NDJSON = 'application/x-ndjson'
