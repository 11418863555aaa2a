/**
 * Tier settings: validated once (`rok tier set`), stored as `tier.json` in the node
 * home, and turned into a backend (S3 or a folder) wrapped with retries.
 */
import { readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { RokError } from '../../protocol/errors.ts'
import { writeFileDurable } from '../fs-durable.ts'
import type { ObjectBackend } from './backend.ts'
import { CONFIG_FILE } from './constants.ts'
import { TierErrorCode } from './errors.ts'
import { localBackend } from './local-backend.ts'
import { withRetry, type RetryInit } from './retry.ts'

export interface S3TierConfig {
  kind: 's3'
  /** Endpoint URL of an S3-compatible service; absent for AWS itself. */
  endpoint?: string
  region: string
  bucket: string
  /** Key prefix inside the bucket ('' for the bucket's root). */
  prefix: string
  pathStyle: boolean
}

export interface FolderTierConfig {
  kind: 'folder'
  /** Absolute path of the folder (a mounted volume). */
  dir: string
}

export type TierConfig = (S3TierConfig | FolderTierConfig) & {
  /** Attempts per request on transient failures. @default RETRY_ATTEMPTS */
  attempts?: number
  /** First retry delay in ms. @default RETRY_BASE_MS */
  retryBaseMs?: number
  /** Pack size in bytes (smaller packs: more requests, less memory). @default PACK_TARGET_SIZE */
  packSize?: number
}

export const DEFAULT_REGION = 'us-east-1'

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/
const PREFIX_PART = /^[A-Za-z0-9._-]+$/
const REGION = /^[a-z0-9-]{1,32}$/

function invalid (message: string, details: Record<string, unknown> = {}): RokError {
  return new RokError(TierErrorCode.INVALID_CONFIG, message, { details })
}

export interface TierSettingsInput {
  endpoint?: string
  bucket?: string
  prefix?: string
  region?: string
  pathStyle?: boolean
  dir?: string
  attempts?: number
  retryBaseMs?: number
  packSize?: number
}

/** Validate what a user typed into a config, with a message per mistake. */
export function parseTierSettings (input: TierSettingsInput): TierConfig {
  const retry = {
    ...(input.attempts === undefined ? {} : { attempts: checkInt(input.attempts, 'attempts', 1, 20) }),
    ...(input.retryBaseMs === undefined ? {} : { retryBaseMs: checkInt(input.retryBaseMs, 'retry delay', 1, 60_000) }),
    ...(input.packSize === undefined ? {} : { packSize: checkInt(input.packSize, 'pack size', 64 * 1024, 1024 * 1024 * 1024) })
  }
  if (input.dir !== undefined) {
    if (input.endpoint !== undefined || input.bucket !== undefined) throw invalid('give either --dir (a folder tier) or --endpoint/--bucket (an S3 tier), not both')
    if (!isAbsolute(input.dir)) throw invalid(`--dir must be an absolute path, got '${input.dir}'`, { dir: input.dir })
    return { kind: 'folder', dir: input.dir, ...retry }
  }
  if (input.bucket === undefined) throw invalid('--bucket NAME is required (the object-store bucket to keep the tier in)')
  if (!BUCKET.test(input.bucket) || input.bucket.includes('..')) {
    throw invalid(`'${input.bucket}' is not a valid bucket name: 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit`, { bucket: input.bucket })
  }
  let endpoint: string | undefined
  if (input.endpoint !== undefined) {
    let url: URL
    try { url = new URL(input.endpoint) } catch { throw invalid(`--endpoint '${input.endpoint}' is not a URL; expected e.g. http://127.0.0.1:9000 or https://s3.example.com`, { endpoint: input.endpoint }) }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`--endpoint must be http:// or https://, got '${url.protocol}'`, { endpoint: input.endpoint })
    if (url.username !== '' || url.password !== '') throw invalid('--endpoint must not contain credentials: use AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials')
    if (url.search !== '' || url.hash !== '') throw invalid('--endpoint must not contain a query or fragment')
    endpoint = url.origin + (url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, ''))
  }
  const prefix = (input.prefix ?? '').replace(/^\/+|\/+$/g, '')
  if (prefix !== '' && (prefix.length > 512 || !prefix.split('/').every(p => PREFIX_PART.test(p) && p !== '.' && p !== '..'))) {
    throw invalid(`--prefix '${input.prefix}' is not valid: '/'-separated parts of letters, digits, '.', '_' and '-'`, { prefix: input.prefix })
  }
  const region = input.region ?? DEFAULT_REGION
  if (!REGION.test(region)) throw invalid(`--region '${region}' is not a region name (e.g. us-east-1)`, { region })
  return { kind: 's3', ...(endpoint === undefined ? {} : { endpoint }), region, bucket: input.bucket, prefix, pathStyle: input.pathStyle === true, ...retry }
}

function checkInt (n: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`${what} must be a whole number from ${min} to ${max}, got ${n}`)
  return n
}

export function configPath (home: string): string {
  return join(home, CONFIG_FILE)
}

/** The home's tier settings, or undefined when no tier is configured. */
export async function readTierConfig (home: string): Promise<TierConfig | undefined> {
  let text: string
  try {
    text = await readFile(configPath(home), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    const raw = JSON.parse(text) as TierConfig
    return parseTierSettings(raw.kind === 'folder' ? raw : { ...raw, endpoint: raw.endpoint })
  } catch (err) {
    throw new RokError(TierErrorCode.INVALID_CONFIG, `${configPath(home)} is not valid: ${(err as Error).message}; run 'rok tier set' again`, { cause: err })
  }
}

export async function writeTierConfig (home: string, config: TierConfig): Promise<void> {
  await writeFileDurable(configPath(home), JSON.stringify(config, null, 2) + '\n', 0o600)
}

export interface BackendHooks {
  onRequest?: (method: string, key: string) => void
  onRetry?: RetryInit['onRetry']
}

/**
 * The backend a config describes, wrapped with retries. The S3 SDK is loaded only here,
 * when a node has an S3 tier: it costs every process that loads it ~30 MB and ~0.3 s.
 */
export async function backendFor (config: TierConfig, hooks: BackendHooks = {}): Promise<ObjectBackend> {
  const raw = config.kind === 'folder'
    ? localBackend(config.dir)
    : (await import('./s3-backend.ts')).s3Backend({ endpoint: config.endpoint, region: config.region, bucket: config.bucket, prefix: config.prefix, pathStyle: config.pathStyle, onRequest: hooks.onRequest })
  return withRetry(raw, { attempts: config.attempts, baseMs: config.retryBaseMs, onRetry: hooks.onRetry })
}

export function describeTier (config: TierConfig): string {
  return config.kind === 'folder'
    ? `folder ${config.dir}`
    : `s3://${config.bucket}${config.prefix === '' ? '' : '/' + config.prefix} at ${config.endpoint ?? 'AWS'} (${config.region}${config.pathStyle ? ', path-style' : ''})`
}
