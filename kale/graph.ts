/**
 * The step graph: `prev` links checked, a dependency order, and ancestry. Pure functions
 * over step names.
 */
import { KaleErrorCode, kaleError } from './errors.ts'

export interface GraphNode {
  name: string
  prev: string[]
  cell?: number
}

/** Check every `prev` exists and there is no cycle; return names in dependency order. */
export function dependencyOrder (steps: GraphNode[], source: string): string[] {
  const byName = new Map(steps.map(s => [s.name, s]))
  for (const s of steps) {
    for (const p of s.prev) {
      if (!byName.has(p)) {
        const where = s.cell !== undefined ? `cell ${s.cell}: ` : ''
        throw kaleError(KaleErrorCode.UNKNOWN_PREV, `${source}: ${where}step '${s.name}' has prev:${p}, but no step is named '${p}' (steps: ${[...byName.keys()].join(', ')})`,
          { details: { cell: s.cell, step: s.name, prev: p } })
      }
    }
  }
  const order: string[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const visit = (name: string, path: string[]): void => {
    const st = state.get(name)
    if (st === 'done') return
    if (st === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name]
      const node = byName.get(name)!
      throw kaleError(KaleErrorCode.CYCLE, `${source}: steps depend on each other in a cycle: ${cycle.join(' → ')}${node.cell !== undefined ? ` (step '${name}' starts at cell ${node.cell})` : ''}`,
        { details: { cell: node.cell, cycle } })
    }
    state.set(name, 'visiting')
    for (const p of byName.get(name)!.prev) visit(p, [...path, name])
    state.set(name, 'done')
    order.push(name)
  }
  for (const s of steps) visit(s.name, [])
  return order
}

/** Every step each step depends on, directly or not. */
export function ancestors (steps: GraphNode[]): Map<string, Set<string>> {
  const byName = new Map(steps.map(s => [s.name, s]))
  const memo = new Map<string, Set<string>>()
  const of = (name: string): Set<string> => {
    let set = memo.get(name)
    if (set !== undefined) return set
    set = new Set()
    for (const p of byName.get(name)?.prev ?? []) {
      set.add(p)
      for (const a of of(p)) set.add(a)
    }
    memo.set(name, set)
    return set
  }
  for (const s of steps) of(s.name)
  return memo
}

/** `from` and every step that depends on it. */
export function descendantsInclusive (steps: GraphNode[], from: string): Set<string> {
  const anc = ancestors(steps)
  return new Set(steps.filter(s => s.name === from || anc.get(s.name)!.has(from)).map(s => s.name))
}
