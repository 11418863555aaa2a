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
import { RokError } from '../../protocol/errors.ts'
import { RegistryErrorCode, statusForCode } from '../errors.ts'

// ajv-formats is CommonJS with a default export that TypeScript sees as the module.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

function makeAjv (coerce: boolean): Ajv {
  const ajv = new Ajv({ verbose: true, coerceTypes: coerce, removeAdditional: false, useDefaults: false, allErrors: false, strict: false })
  addFormats(ajv)
  return ajv
}

const CODE_BY_STATUS: Record<number, string> = {
  400: RegistryErrorCode.INVALID_REQUEST,
  401: RegistryErrorCode.UNAUTHENTICATED,
  403: RegistryErrorCode.FORBIDDEN,
  404: RegistryErrorCode.NOT_FOUND,
  405: RegistryErrorCode.INVALID_REQUEST,
  406: RegistryErrorCode.INVALID_REQUEST,
  411: RegistryErrorCode.INVALID_REQUEST,
  413: RegistryErrorCode.BODY_TOO_LARGE,
  414: RegistryErrorCode.INVALID_REQUEST,
  415: RegistryErrorCode.UNSUPPORTED_MEDIA_TYPE,
  429: RegistryErrorCode.RATE_LIMITED,
  431: RegistryErrorCode.INVALID_REQUEST
}

export const validationPlugin = fp(async function validation (app: FastifyInstance) {
  const strict = makeAjv(false)
  const coercing = makeAjv(true)
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema) as any)

  app.setSchemaErrorFormatter((errors, dataVar) => new Error(errors.map(e => describe(e, dataVar)).join('; ')))

  app.setErrorHandler((err: FastifyError | RokError, request, reply) => {
    if (err instanceof RokError) {
      const status = statusForCode(err.code)
      if (status >= 500) request.log.error({ err }, 'registry error')
      return reply.code(status).send(status >= 500 ? { code: RegistryErrorCode.INTERNAL, message: 'internal error' } : err.toJSON())
    }
    const status = (err as FastifyError).statusCode
    if (status !== undefined && status >= 400 && status < 500) {
      const code = CODE_BY_STATUS[status] ?? RegistryErrorCode.INVALID_REQUEST
      return reply.code(status).send({ code, message: err.message })
    }
    request.log.error({ err }, 'unexpected error')
    return reply.code(500).send({ code: RegistryErrorCode.INTERNAL, message: 'internal error' })
  })

  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({ code: RegistryErrorCode.NOT_FOUND, message: `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}` })
  })
}, { name: 'rok-validation' })

interface AjvError { instancePath: string, keyword: string, message?: string, params: Record<string, any>, parentSchema?: { description?: string } }

/** One readable sentence per problem, naming the field and what it should be. */
function describe (e: AjvError, dataVar: string): string {
  const where = `${dataVar}${e.instancePath.replaceAll('/', '.')}`
  switch (e.keyword) {
    case 'enum': return `${where} must be one of ${(e.params.allowedValues as unknown[]).map(v => `'${String(v)}'`).join(', ')}`
    case 'additionalProperties': return `${where} has an unknown field '${String(e.params.additionalProperty).slice(0, 40)}'`
    case 'required': return `${where} is missing the field '${String(e.params.missingProperty)}'`
    case 'pattern': return `${where} is not allowed${e.parentSchema?.description !== undefined ? `: use ${e.parentSchema.description}` : ` (must match ${String(e.params.pattern)})`}`
    default: return `${where} ${e.message ?? 'is invalid'}`
  }
}
