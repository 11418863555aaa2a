/**
 * Python tracebacks from a generated step script → the user's notebook cell and line.
 * `  File "/…/steps/train.py", line 57, in <module>` becomes
 * `  File "nb.ipynb", cell 5, line 3, in <module>`; frames in other files are untouched.
 */
import type { LineOrigin } from '../codegen/step.ts'

export interface MappedFrame extends LineOrigin {
  function: string
}

const FRAME = /^(\s*)File "(.+)", line (\d+), in (.*)$/

export interface TracebackMapper {
  /** Rewrite one output line (a no-op unless it is a frame in the step script). */
  line: (text: string) => string
  /** The innermost user-code frame seen so far: where the step failed. */
  lastFrame: () => MappedFrame | undefined
}

export function tracebackMapper (scriptPath: string, lineMap: Array<LineOrigin | null>, sourceName: string): TracebackMapper {
  let last: MappedFrame | undefined
  return {
    line (text) {
      const m = FRAME.exec(text)
      if (m === null || m[2] !== scriptPath) return text
      const origin = lineMap[Number(m[3]) - 1]
      if (origin === null || origin === undefined) return text
      last = { ...origin, function: m[4] }
      const where = origin.cell !== undefined ? `cell ${origin.cell}, line ${origin.line}` : `line ${origin.line}`
      return `${m[1]}File "${sourceName}", ${where}, in ${m[4]}`
    },
    lastFrame: () => last
  }
}
