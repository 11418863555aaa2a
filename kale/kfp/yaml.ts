/** The compiled pipeline as KFP pipeline YAML: the IR, then the platform spec if any. */
import { stringify } from 'yaml'
import type { CompiledPipeline } from './compile.ts'

export function pipelineYaml (compiled: CompiledPipeline): string {
  const opts = { lineWidth: 0, aliasDuplicateObjects: false } as const
  const name = (compiled.pipelineSpec.pipelineInfo as { name: string }).name
  let text = `# PIPELINE DEFINITION\n# Name: ${name}\n# Compiled by Kale (Rok)\n` + stringify(compiled.pipelineSpec, opts)
  if (compiled.platformSpec !== undefined) text += '---\n' + stringify(compiled.platformSpec, opts)
  return text
}
