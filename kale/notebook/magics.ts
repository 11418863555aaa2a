/**
 * IPython magics (`%timeit`, `%%bash`) and shell lines (`!pip install`) are not Python;
 * a pipeline step runs plain python3, so they are dropped with a warning. Each dropped
 * line becomes `pass` at the same indentation, which keeps the cell's line numbers (for
 * tracebacks) and keeps an indented block valid.
 */
import type { Warning } from '../model.ts'

// Cell magics whose body is still Python: only the magic line goes.
const PYTHON_BODY_CELL_MAGICS = new Set(['time', 'timeit', 'capture', 'prun'])

export function dropMagics (code: string, cell: number): { code: string, warnings: Warning[] } {
  const lines = code.split('\n')
  const warnings: Warning[] = []
  const first = lines[0]?.trimStart() ?? ''
  if (first.startsWith('%%')) {
    const magic = first.slice(2).split(/\s/)[0]
    if (!PYTHON_BODY_CELL_MAGICS.has(magic)) {
      warnings.push({ message: `cell magic '%%${magic}' is not Python; the whole cell is left out of the pipeline`, cell, line: 1 })
      return { code: lines.map(() => '').join('\n'), warnings }
    }
    warnings.push({ message: `cell magic '%%${magic}' dropped; the cell body runs as plain Python`, cell, line: 1 })
    lines[0] = ''
  }
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trimStart()
    if (trimmed.startsWith('%') || trimmed.startsWith('!')) {
      const indent = lines[i].slice(0, lines[i].length - trimmed.length)
      warnings.push({ message: `'${trimmed.slice(0, 60)}' is an IPython ${trimmed.startsWith('!') ? 'shell line' : 'magic'}, not Python; dropped`, cell, line: i + 1 })
      lines[i] = indent === '' ? '' : indent + 'pass'
    }
  }
  return { code: lines.join('\n'), warnings }
}
