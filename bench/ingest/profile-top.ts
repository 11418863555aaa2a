/**
 * Top self-time functions of a V8 .cpuprofile (as written by `node --cpu-prof`), and the
 * same grouped by source file, so hot spots can be reported without a GUI.
 *
 *   npx node bench/ingest/profile-top.ts FILE.cpuprofile [--top 20]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'

interface ProfileNode { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }
interface Profile { nodes: ProfileNode[], samples: number[], timeDeltas: number[], startTime: number, endTime: number }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' } } })
const top = Number(values.top)
for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const total = (p.endTime - p.startTime) / 1000
  const fns = new Map<string, number>()
  const files = new Map<string, number>()
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    const short = url.replace(/^file:\/\/\/work\/main\//, '').replace(/^.*node_modules\//, 'nm/')
    const key = `${functionName || '(anonymous)'}  ${short}${url ? `:${lineNumber + 1}` : ''}`
    fns.set(key, (fns.get(key) ?? 0) + us / 1000)
    const group = url === '' ? `(${functionName})` : short.startsWith('nm/') ? short.split('/').slice(0, short.startsWith('nm/@') ? 3 : 2).join('/') : short
    files.set(group, (files.get(group) ?? 0) + us / 1000)
  }
  const show = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([k, ms]) => `  ${ms.toFixed(0).padStart(7)} ms ${(100 * ms / total).toFixed(1).padStart(5)}%  ${k}`).join('\n')
  process.stdout.write(`${file}: ${total.toFixed(0)} ms profiled\n by function (self time):\n${show(fns)}\n by file:\n${show(files)}\n\n`)
}
