// Test helper: pretend a bucket's schedule last ran at a given time (a node that was down for days).
import { openEngine } from '../../node/engine.ts'

const [home, bucket, iso] = process.argv.slice(2)
const engine = await openEngine({ home })
try {
  await engine.policies.setLastRun(bucket, Date.parse(iso))
} finally {
  await engine.close()
}
