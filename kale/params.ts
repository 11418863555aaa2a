/** `--param name=value` → typed pipeline parameter values. */
import { KaleErrorCode, kaleError } from './errors.ts'
import type { Parameter } from './model.ts'

export function parseParamArgs (args: string[], parameters: Parameter[]): Record<string, string | number | boolean> {
  const values: Record<string, string | number | boolean> = Object.fromEntries(parameters.map(p => [p.name, p.value]))
  for (const arg of args) {
    const eq = arg.indexOf('=')
    const name = eq === -1 ? arg : arg.slice(0, eq)
    const raw = arg.slice(eq + 1)
    const p = parameters.find(x => x.name === name)
    if (eq === -1 || p === undefined) {
      const known = parameters.map(x => x.name).join(', ') || 'none'
      throw kaleError(KaleErrorCode.BAD_PARAM, eq === -1 ? `--param '${arg}' must be NAME=VALUE` : `unknown parameter '${name}' (the pipeline's parameters: ${known})`, { details: { name } })
    }
    values[name] = coerce(p, raw)
  }
  return values
}

function coerce (p: Parameter, raw: string): string | number | boolean {
  const bad = (): Error => kaleError(KaleErrorCode.BAD_PARAM, `parameter '${p.name}' is ${p.type === 'int' ? 'an' : 'a'} ${p.type}; '${raw}' is not`, { details: { name: p.name } })
  switch (p.type) {
    case 'int':
      if (!/^[-+]?\d+$/.test(raw.trim())) throw bad()
      return Number(raw)
    case 'float': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n)) throw bad()
      return n
    }
    case 'bool':
      if (/^(true|1|yes)$/i.test(raw)) return true
      if (/^(false|0|no)$/i.test(raw)) return false
      throw bad()
    default:
      return raw
  }
}
