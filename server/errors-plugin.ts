/**
 * Input validation and error answers for every route. Bodies are validated strictly (no
 * type coercion, no silently dropped fields: a wrong type is a 400, not a guess); query
 * strings and path parameters arrive as text, so they are coerced to the schema's types.
 * Every error leaves as `{code, message}` with the status of its code; anything that is
 * not a known error is logged and answered as a bare 500 without internals.
 */
import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyInstance } from 'fastify'
import { RokError } from '../protocol/errors.ts'

// ajv-formats is CommonJS with a default export that TypeScript sees as the module.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

export interface ErrorsPluginOptions {
  /** HTTP status for a RokError code (500 for codes that are bugs). */
  statusForCode: (code: string) => number
  /** Codes for plain HTTP failures (bad JSON, body too large, unknown route...). */
  codes: { invalidRequest: string, notFound: string, bodyTooLarge: string, unsupportedMediaType: string, rateLimited: string, internal: string, unauthenticated: string, forbidden?: string }
}

function makeAjv (coerce: boolean): Ajv {
  const ajv = new Ajv({ verbose: true, coerceTypes: coerce, removeAdditional: false, useDefaults: false, allErrors: false, strict: false })
  addFormats(ajv)
  return ajv
}

export const errorsPlugin = fp(async function errors (app: FastifyInstance, opts: ErrorsPluginOptions) {
  const { codes } = opts
  const codeByStatus: Record<number, string> = {
    401: codes.unauthenticated,
    403: codes.forbidden ?? codes.invalidRequest,
    404: codes.notFound,
    413: codes.bodyTooLarge,
    415: codes.unsupportedMediaType,
    429: codes.rateLimited
  }
  const strict = makeAjv(false)
  const coercing = makeAjv(true)
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema) as any)

  app.setSchemaErrorFormatter((errors, dataVar) => new Error(errors.map(e => describe(e as AjvError, dataVar)).join('; ')))

  app.setErrorHandler((err: FastifyError | RokError, request, reply) => {
    if (err instanceof RokError) {
      // RokError messages are written for users (they name what was wrong and what to do),
      // so they go out even on a 5xx; only the bug code hides its message.
      const status = opts.statusForCode(err.code)
      if (status >= 500) request.log.error({ err }, 'request failed')
      return reply.code(status).send(err.code === codes.internal ? { code: codes.internal, message: 'internal error' } : err.toJSON())
    }
    const status = (err as FastifyError).statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ code: codeByStatus[status] ?? codes.invalidRequest, message: err.message })
    }
    request.log.error({ err }, 'unexpected error')
    return reply.code(500).send({ code: codes.internal, message: 'internal error' })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ code: codes.notFound, message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}` })
  })
}, { name: 'rok-errors' })

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, any>, parentSchema?: { description?: string } }

/** One readable sentence per problem, naming the field and what it should be. */
export function describe (e: AjvError, dataVar: string): string {
  const where = `${dataVar}${e.instancePath.replaceAll('/', '.')}`
  switch (e.keyword) {
    case 'enum': return `${where} must be one of ${(e.params.allowedValues as unknown[]).map(v => `'${String(v)}'`).join(', ')}`
    case 'additionalProperties': return `${where} has an unknown field '${String(e.params.additionalProperty).slice(0, 40)}'`
    case 'required': return `${where} is missing the field '${String(e.params.missingProperty)}'`
    case 'pattern': return `${where} is not allowed${e.parentSchema?.description !== undefined ? `: use ${e.parentSchema.description}` : ` (must match ${String(e.params.pattern)})`}`
    default: return `${where} ${e.message ?? 'is invalid'}`
  }
}
