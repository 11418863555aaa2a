/**
 * A strict, independent check of KFP v2 IR (PipelineSpec 2.1.0) as the API server
 * reads it: only known keys, valid names, every reference resolving (components,
 * executors, tasks, parameters, artifacts, placeholders), types consistent, the DAG
 * acyclic. Returns a list of problems; an empty list means the spec is well-formed.
 */

type Obj = Record<string, any>

const PARAMETER_TYPES = new Set(['NUMBER_INTEGER', 'NUMBER_DOUBLE', 'STRING', 'BOOLEAN', 'LIST', 'STRUCT', 'TASK_FINAL_STATUS'])
const NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/
const KEY = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function checkPipelineSpec (spec: Obj, platform?: Obj): string[] {
  const problems: string[] = []
  const fail = (msg: string): void => { problems.push(msg) }
  const only = (what: string, o: unknown, allowed: string[], required: string[] = []): o is Obj => {
    if (o === null || typeof o !== 'object' || Array.isArray(o)) { fail(`${what} must be a mapping`); return false }
    for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${what} has unknown key '${k}'`)
    for (const k of required) if ((o as Obj)[k] === undefined) fail(`${what} lacks '${k}'`)
    return true
  }

  if (!only('pipeline spec', spec, ['components', 'deploymentSpec', 'pipelineInfo', 'root', 'schemaVersion', 'sdkVersion', 'defaultPipelineRoot'],
    ['components', 'deploymentSpec', 'pipelineInfo', 'root', 'schemaVersion'])) return problems
  if (spec.schemaVersion !== '2.1.0') fail(`schemaVersion is ${spec.schemaVersion}, want 2.1.0`)
  if (only('pipelineInfo', spec.pipelineInfo, ['name', 'displayName', 'description'], ['name']) && !NAME.test(spec.pipelineInfo.name)) fail(`pipeline name '${spec.pipelineInfo.name}' is invalid`)

  const executors: Obj = spec.deploymentSpec?.executors ?? {}
  only('deploymentSpec', spec.deploymentSpec, ['executors'], ['executors'])
  const usedExecutors = new Set<string>()

  const checkDefs = (what: string, defs: unknown): void => {
    if (defs === undefined) return
    if (!only(what, defs, ['parameters', 'artifacts'])) return
    for (const [k, p] of Object.entries((defs as Obj).parameters ?? {})) {
      if (!KEY.test(k)) fail(`${what} parameter '${k}' is not a valid name`)
      if (only(`${what}.parameters.${k}`, p, ['parameterType', 'defaultValue', 'isOptional', 'description'], ['parameterType']) && !PARAMETER_TYPES.has((p as Obj).parameterType)) fail(`${what}.parameters.${k} has type ${(p as Obj).parameterType}`)
    }
    for (const [k, a] of Object.entries((defs as Obj).artifacts ?? {})) {
      if (!KEY.test(k)) fail(`${what} artifact '${k}' is not a valid name`)
      if (only(`${what}.artifacts.${k}`, a, ['artifactType', 'isArtifactList', 'isOptional', 'description'], ['artifactType'])) {
        const t = (a as Obj).artifactType
        if (only(`${what}.artifacts.${k}.artifactType`, t, ['schemaTitle', 'schemaVersion'], ['schemaTitle', 'schemaVersion'])) {
          if (!/^system\.[A-Za-z]+$/.test(t.schemaTitle)) fail(`${what}.artifacts.${k} has schemaTitle ${t.schemaTitle}`)
          if (!/^\d+\.\d+\.\d+$/.test(t.schemaVersion)) fail(`${what}.artifacts.${k} has schemaVersion ${t.schemaVersion}`)
        }
      }
    }
  }

  for (const [name, comp] of Object.entries(spec.components as Obj)) {
    if (!/^comp-[a-z0-9-]+$/.test(name)) fail(`component name '${name}' is invalid`)
    if (!only(`component ${name}`, comp, ['executorLabel', 'inputDefinitions', 'outputDefinitions', 'dag'], ['executorLabel'])) continue
    const exec = executors[comp.executorLabel]
    if (exec === undefined) { fail(`component ${name} names executor ${comp.executorLabel}, which does not exist`); continue }
    usedExecutors.add(comp.executorLabel)
    checkDefs(`component ${name} inputDefinitions`, comp.inputDefinitions)
    checkDefs(`component ${name} outputDefinitions`, comp.outputDefinitions)
    if (!only(`executor ${comp.executorLabel}`, exec, ['container', 'importer', 'resolver'], ['container'])) continue
    const c = exec.container
    if (!only(`executor ${comp.executorLabel} container`, c, ['image', 'command', 'args', 'env', 'resources', 'lifecycle'], ['image'])) continue
    if (typeof c.image !== 'string' || c.image === '') fail(`executor ${comp.executorLabel} has no image`)
    for (const list of ['command', 'args']) {
      if (c[list] !== undefined && (!Array.isArray(c[list]) || !c[list].every((x: unknown) => typeof x === 'string'))) fail(`executor ${comp.executorLabel} ${list} must be a list of strings`)
    }
    if (c.resources !== undefined && only(`executor ${comp.executorLabel} resources`, c.resources,
      ['cpuLimit', 'memoryLimit', 'cpuRequest', 'memoryRequest', 'resourceCpuLimit', 'resourceMemoryLimit', 'resourceCpuRequest', 'resourceMemoryRequest', 'accelerator'])) {
      const r = c.resources
      for (const k of ['cpuLimit', 'memoryLimit']) if (r[k] !== undefined && typeof r[k] !== 'number') fail(`${k} must be a number`)
      for (const k of ['resourceCpuLimit', 'resourceMemoryLimit']) if (r[k] !== undefined && typeof r[k] !== 'string') fail(`${k} must be a string`)
      if (r.accelerator !== undefined) only('accelerator', r.accelerator, ['type', 'count', 'resourceType', 'resourceCount'])
    }
    // Every placeholder must name something this component declares.
    const ins = comp.inputDefinitions ?? {}
    const outs = comp.outputDefinitions ?? {}
    for (const arg of [...(c.args ?? []), ...(c.command ?? [])] as string[]) {
      for (const m of arg.matchAll(/\{\{\$\.(inputs|outputs)\.(parameters|artifacts)\['([^']+)'\](\.[a-z_]+)?\}\}/g)) {
        const defs = m[1] === 'inputs' ? ins : outs
        if (defs[m[2]]?.[m[3]] === undefined) fail(`executor ${comp.executorLabel} placeholder ${m[0]} names an undeclared ${m[1]} ${m[2]}`)
        if (m[2] === 'artifacts' && m[4] !== '.path' && m[4] !== '.uri') fail(`placeholder ${m[0]} must end in .path or .uri`)
        if (m[1] === 'outputs' && m[2] === 'parameters' && m[4] !== '.output_file') fail(`placeholder ${m[0]} must end in .output_file`)
      }
    }
  }
  for (const e of Object.keys(executors)) if (!usedExecutors.has(e)) fail(`executor ${e} is used by no component`)

  const root = spec.root
  if (!only('root', root, ['dag', 'inputDefinitions', 'outputDefinitions'], ['dag'])) return problems
  checkDefs('root inputDefinitions', root.inputDefinitions)
  checkDefs('root outputDefinitions', root.outputDefinitions)
  const rootParams: Obj = root.inputDefinitions?.parameters ?? {}
  for (const [k, p] of Object.entries(rootParams)) {
    const v = (p as Obj).defaultValue
    const t = (p as Obj).parameterType
    if (v === undefined) continue
    const ok = t === 'NUMBER_INTEGER' ? Number.isInteger(v) : t === 'NUMBER_DOUBLE' ? typeof v === 'number' : t === 'STRING' ? typeof v === 'string' : t === 'BOOLEAN' ? typeof v === 'boolean' : true
    if (!ok) fail(`root parameter ${k} default ${JSON.stringify(v)} is not a ${t}`)
  }
  only('root dag', root.dag, ['tasks', 'outputs'], ['tasks'])
  const tasks: Obj = root.dag.tasks
  for (const [name, task] of Object.entries(tasks)) {
    if (!NAME.test(name)) fail(`task name '${name}' is invalid`)
    if (!only(`task ${name}`, task, ['taskInfo', 'componentRef', 'dependentTasks', 'inputs', 'cachingOptions', 'triggerPolicy'], ['taskInfo', 'componentRef'])) continue
    if (task.taskInfo?.name !== name) fail(`task ${name} has taskInfo.name ${task.taskInfo?.name}`)
    const comp = spec.components[task.componentRef?.name]
    if (comp === undefined) { fail(`task ${name} refers to missing component ${task.componentRef?.name}`); continue }
    const deps: string[] = task.dependentTasks ?? []
    for (const d of deps) if (tasks[d] === undefined) fail(`task ${name} depends on missing task ${d}`)
    only(`task ${name} inputs`, task.inputs ?? {}, ['parameters', 'artifacts'])
    const wantParams = Object.keys(comp.inputDefinitions?.parameters ?? {}).sort()
    const gotParams = Object.keys(task.inputs?.parameters ?? {}).sort()
    if (JSON.stringify(wantParams) !== JSON.stringify(gotParams)) fail(`task ${name} passes parameters [${gotParams}] but its component takes [${wantParams}]`)
    for (const [k, src] of Object.entries(task.inputs?.parameters ?? {})) {
      const s = src as Obj
      if (!only(`task ${name} parameter ${k}`, s, ['componentInputParameter', 'runtimeValue', 'taskOutputParameter'])) continue
      if (s.componentInputParameter !== undefined) {
        const rp = rootParams[s.componentInputParameter]
        if (rp === undefined) fail(`task ${name} parameter ${k} reads missing root parameter ${s.componentInputParameter}`)
        else if (rp.parameterType !== comp.inputDefinitions.parameters[k].parameterType) fail(`task ${name} parameter ${k} type differs from root parameter`)
      }
    }
    const wantArts = Object.keys(comp.inputDefinitions?.artifacts ?? {}).sort()
    const gotArts = Object.keys(task.inputs?.artifacts ?? {}).sort()
    if (JSON.stringify(wantArts) !== JSON.stringify(gotArts)) fail(`task ${name} passes artifacts [${gotArts}] but its component takes [${wantArts}]`)
    for (const [k, src] of Object.entries(task.inputs?.artifacts ?? {})) {
      const ref = (src as Obj).taskOutputArtifact
      if (!only(`task ${name} artifact ${k}`, src, ['taskOutputArtifact', 'componentInputArtifact'])) continue
      if (ref === undefined) continue
      const producer = tasks[ref.producerTask]
      if (producer === undefined) { fail(`task ${name} artifact ${k} comes from missing task ${ref.producerTask}`); continue }
      if (spec.components[producer.componentRef.name]?.outputDefinitions?.artifacts?.[ref.outputArtifactKey] === undefined) fail(`task ${name} artifact ${k}: task ${ref.producerTask} has no output artifact ${ref.outputArtifactKey}`)
      if (!ancestorsOf(tasks, name).has(ref.producerTask)) fail(`task ${name} reads an artifact of ${ref.producerTask} without depending on it`)
    }
  }
  // Acyclic.
  const seen = new Map<string, number>()
  const visit = (n: string): void => {
    if (seen.get(n) === 2) return
    if (seen.get(n) === 1) { fail(`tasks form a cycle through ${n}`); return }
    seen.set(n, 1)
    for (const d of tasks[n]?.dependentTasks ?? []) visit(d)
    seen.set(n, 2)
  }
  for (const n of Object.keys(tasks)) visit(n)

  const outs: Obj = root.dag.outputs?.parameters ?? {}
  const declared = Object.keys(root.outputDefinitions?.parameters ?? {}).sort()
  if (JSON.stringify(Object.keys(outs).sort()) !== JSON.stringify(declared)) fail('root dag outputs and root outputDefinitions differ')
  for (const [k, o] of Object.entries(outs)) {
    const v = (o as Obj).valueFromParameter
    const producer = tasks[v?.producerSubtask]
    if (producer === undefined) { fail(`pipeline output ${k} comes from missing task ${v?.producerSubtask}`); continue }
    if (spec.components[producer.componentRef.name]?.outputDefinitions?.parameters?.[v.outputParameterKey] === undefined) fail(`pipeline output ${k}: task ${v.producerSubtask} has no output parameter ${v.outputParameterKey}`)
  }

  if (platform !== undefined) {
    const pe: Obj = platform?.platforms?.kubernetes?.deploymentSpec?.executors ?? {}
    only('platform spec', platform, ['platforms'])
    for (const [e, cfg] of Object.entries(pe)) {
      if (executors[e] === undefined) fail(`platform spec configures missing executor ${e}`)
      if (!only(`platform executor ${e}`, cfg, ['podMetadata', 'pvcMount', 'secretAsVolume', 'secretAsEnv', 'nodeSelector', 'tolerations'])) continue
      if ((cfg as Obj).podMetadata !== undefined) only(`platform executor ${e} podMetadata`, (cfg as Obj).podMetadata, ['labels', 'annotations'])
      for (const m of (cfg as Obj).pvcMount ?? []) only(`platform executor ${e} pvcMount`, m, ['constant', 'mountPath', 'taskOutputParameter', 'componentInputParameter', 'pvcNameParameter'], ['mountPath'])
    }
  }
  return problems
}

function ancestorsOf (tasks: Obj, name: string, acc = new Set<string>()): Set<string> {
  for (const d of tasks[name]?.dependentTasks ?? []) {
    if (!acc.has(d)) { acc.add(d); ancestorsOf(tasks, d, acc) }
  }
  return acc
}
