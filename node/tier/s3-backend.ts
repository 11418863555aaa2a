/**
 * An object backend on any S3-compatible service (AWS, MinIO, Ceph, s3rver) through
 * @aws-sdk/client-s3. Credentials come from the SDK's standard chain (AWS_* environment
 * variables, ~/.aws files, instance roles). The SDK's own retries are off: the retry
 * wrapper (retry.ts) decides, so an attempt is one HTTP request and request counts are
 * exact. Objects above MULTIPART_PART_SIZE go up as multipart uploads.
 */
import {
  DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command,
  PutObjectCommand, S3Client
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { RokError } from '../../protocol/errors.ts'
import { checkKey, notFound, type ObjectBackend, type ObjectInfo } from './backend.ts'
import { MULTIPART_PART_SIZE, MULTIPART_QUEUE } from './constants.ts'
import { TierErrorCode } from './errors.ts'

export interface S3BackendInit {
  endpoint?: string
  region: string
  bucket: string
  /** Key prefix inside the bucket, without leading or trailing slash ('' for none). */
  prefix: string
  pathStyle: boolean
  /** Explicit credentials; by default the SDK's standard chain. */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** @default MULTIPART_PART_SIZE */
  partSize?: number
  /** Called once per HTTP request sent (counting requests for status and benchmarks). */
  onRequest?: (method: string, key: string) => void
  /** Per-request timeout. @default 120 s */
  requestTimeoutMs?: number
}

export interface S3Backend extends ObjectBackend {
  client: S3Client
}

export function s3Backend (init: S3BackendInit): S3Backend {
  const client = new S3Client({
    endpoint: init.endpoint,
    region: init.region,
    forcePathStyle: init.pathStyle,
    credentials: init.credentials,
    maxAttempts: 1,
    // Checksums only where S3 requires them: many S3-compatible servers reject or ignore
    // the newer flexible checksums, and every block is verified by its CID anyway.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: 10_000, requestTimeout: init.requestTimeoutMs ?? 120_000 }
  })
  if (init.onRequest !== undefined) {
    const onRequest = init.onRequest
    client.middlewareStack.add((next, context) => async (args) => {
      const req = args.request as { method?: string, path?: string }
      onRequest(req.method ?? String(context.commandName), req.path ?? '')
      return await next(args)
    }, { step: 'finalizeRequest', name: 'rokCountRequests', priority: 'low' })
  }
  const Bucket = init.bucket
  const full = (key: string): string => (init.prefix === '' ? '' : init.prefix + '/') + checkKey(key)
  const location = `s3://${init.bucket}${init.prefix === '' ? '' : '/' + init.prefix} at ${init.endpoint ?? 'AWS'}`
  const partSize = init.partSize ?? MULTIPART_PART_SIZE

  const fail = (err: unknown, key?: string): never => { throw mapError(err, location, init.bucket, key) }

  return {
    client,
    location,
    async check (options = {}) {
      try {
        await client.send(new HeadBucketCommand({ Bucket }), { abortSignal: options.signal })
      } catch (err) { fail(err) }
    },
    async put (key, body, options = {}) {
      const Key = full(key)
      try {
        if (body.length <= partSize) {
          await client.send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength: body.length }), { abortSignal: options.signal })
          return
        }
        const upload = new Upload({ client, params: { Bucket, Key, Body: body }, partSize, queueSize: MULTIPART_QUEUE, leavePartsOnError: false })
        const onAbort = (): void => { void upload.abort().catch(() => {}) }
        options.signal?.addEventListener('abort', onAbort, { once: true })
        try {
          await upload.done()
        } finally {
          options.signal?.removeEventListener('abort', onAbort)
        }
      } catch (err) { fail(err, key) }
    },
    async get (key, options = {}) {
      const range = options.range
      const Range = range === undefined ? undefined : `bytes=${range.offset}-${range.offset + range.length - 1}`
      if (range !== undefined && range.length === 0) return new Uint8Array(0)
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: full(key), Range }), { abortSignal: options.signal })
        return await res.Body!.transformToByteArray()
      } catch (err) { return fail(err, key) }
    },
    async head (key, options = {}) {
      try {
        const res = await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }), { abortSignal: options.signal })
        return { key, size: res.ContentLength ?? 0, modified: res.LastModified?.getTime() ?? 0 }
      } catch (err) {
        const mapped = mapError(err, location, init.bucket, key)
        if (mapped.code === TierErrorCode.OBJECT_NOT_FOUND) return undefined
        throw mapped
      }
    },
    async list (prefix, options = {}) {
      const out: ObjectInfo[] = []
      const strip = init.prefix === '' ? 0 : init.prefix.length + 1
      let ContinuationToken: string | undefined
      do {
        let res
        try {
          res = await client.send(new ListObjectsV2Command({ Bucket, Prefix: (init.prefix === '' ? '' : init.prefix + '/') + prefix, ContinuationToken }), { abortSignal: options.signal })
        } catch (err) { return fail(err) }
        for (const o of res.Contents ?? []) {
          if (o.Key === undefined) continue
          out.push({ key: o.Key.slice(strip), size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? 0 })
        }
        ContinuationToken = res.IsTruncated === true ? res.NextContinuationToken : undefined
      } while (ContinuationToken !== undefined)
      return out
    },
    async delete (key, options = {}) {
      try {
        await client.send(new DeleteObjectCommand({ Bucket, Key: full(key) }), { abortSignal: options.signal })
      } catch (err) {
        const mapped = mapError(err, location, init.bucket, key)
        if (mapped.code !== TierErrorCode.OBJECT_NOT_FOUND) throw mapped
      }
    }
  }
}

/** Turn an SDK error into a RokError with a code callers can act on. */
export function mapError (err: unknown, location: string, bucket: string, key?: string): RokError {
  if (err instanceof RokError) return err
  const e = err as { name?: string, code?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const status = e.$metadata?.httpStatusCode
  const name = e.name ?? ''
  const what = key === undefined ? location : `${key} in ${location}`
  if (name === 'AbortError' || e.code === 'ABORT_ERR') {
    return new RokError('ERR_ABORTED', 'the object-store request was interrupted', { cause: err })
  }
  if (name === 'CredentialsProviderError') {
    return new RokError(TierErrorCode.ACCESS_DENIED, `no object-store credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for ${location}`, { cause: err })
  }
  if (name === 'NoSuchBucket' || (key === undefined && status === 404)) {
    return new RokError(TierErrorCode.NO_SUCH_BUCKET, `bucket '${bucket}' does not exist at ${location}: create it or check --bucket`, { cause: err, details: { bucket } })
  }
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return notFound(location, key ?? '', err)
  if (status === 401 || status === 403 || ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes(name)) {
    return new RokError(TierErrorCode.ACCESS_DENIED, `${location} refused the credentials (${name !== '' && name !== 'Unknown' ? name : `HTTP ${status}`}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and the bucket's permissions`, { cause: err })
  }
  if (status === 416) return new RokError(TierErrorCode.DAMAGED, `${what} is shorter than expected`, { cause: err, details: { key } })
  // Everything else — no answer, a reset, a timeout, 5xx, throttling — may pass: retry.
  const detail = status === undefined ? (e.code ?? e.message ?? name) : `HTTP ${status}${name !== '' && name !== 'Unknown' ? ` ${name}` : ''}`
  return new RokError(TierErrorCode.UNREACHABLE, `object store request for ${what} failed: ${detail}`, { cause: err, details: { transient: true, status } })
}
