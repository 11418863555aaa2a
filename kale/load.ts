/** Read a notebook or SDK module from disk and analyse it into a pipeline. */
import { readFile } from 'node:fs/promises'
import { analyzePipeline } from './analysis.ts'
import { KaleErrorCode, kaleError } from './errors.ts'
import type { Pipeline, PipelineSpec } from './model.ts'
import { parseNotebook } from './notebook/parse.ts'
import type { PythonOptions } from './python.ts'
import { parseSdkModule } from './sdk-module.ts'

export async function readPipelineSpec (path: string, opts: PythonOptions): Promise<PipelineSpec> {
  const text = await readFile(path, 'utf8')
  if (path.endsWith('.ipynb')) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (cause) {
      throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${path} is not valid JSON, so not a notebook: ${(cause as Error).message}`, { cause })
    }
    return parseNotebook(json, { source: path })
  }
  if (path.endsWith('.py')) return await parseSdkModule(text, path, opts)
  throw kaleError(KaleErrorCode.INVALID_NOTEBOOK, `${path}: Kale reads notebooks (.ipynb) and Python modules using the Kale SDK (.py)`)
}

export async function loadPipeline (path: string, opts: PythonOptions): Promise<Pipeline> {
  return await analyzePipeline(await readPipelineSpec(path, opts), opts)
}
