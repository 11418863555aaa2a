#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, which Node 24 runs directly. `npx kale` puts the
// project's pinned Node 24 first on PATH; a bare older node gets a clear message instead.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  console.error(`kale: needs Node.js 24 or newer (this is ${process.version}); run it as \`npx kale\` from the project, which uses the pinned Node 24`)
  process.exit(2)
}
// Keep compiled (and type-stripped) modules between runs: halves the CLI's start-up.
// Node checks each entry against the source, so an edited file is compiled again.
const { enableCompileCache } = await import('node:module')
enableCompileCache?.()
const { main } = await import('./kale/main.ts')
await main(process.argv.slice(2))
