// Test helper: print a home's gc state as JSON (indexed blocks, persisted candidates), for a test to see where a killed gc stopped.
import { openEngine } from '../../node/engine.ts'

const engine = await openEngine({ home: process.argv[2] })
try {
  let blocks = 0
  for await (const _ of engine.store.blocks()) blocks++
  process.stdout.write(JSON.stringify({ blocks, candidates: engine.candidates.size }) + '\n')
} finally {
  await engine.close()
}
