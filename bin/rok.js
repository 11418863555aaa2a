#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript, which Node 24 runs directly. `npx rok` puts the
// project's pinned Node 24 first on PATH; a bare older node gets a clear message instead.
const major = Number(process.versions.node.split('.')[0])
if (major < 24) {
  console.error(`rok: needs Node.js 24 or newer (this is ${process.version}); run it as \`npx rok\` from the project, which uses the pinned Node 24`)
  process.exit(2)
}
// Keep compiled (and type-stripped) modules between runs: type-stripping every source
// with amaro's wasm was a third of an empty command's start. Node checks each entry
// against the source, so an edited file is compiled again. The directory goes into the
// environment so the re-executed image, worker threads and spawned daemons share it.
const { enableCompileCache } = await import('node:module')
const cache = enableCompileCache?.()
if (cache?.directory !== undefined) process.env.NODE_COMPILE_CACHE = cache.directory
// glibc raises its mmap threshold each time a large buffer is freed, after which the 4 MiB
// read, pack and restore buffers come from heap arenas that it rarely gives back: RSS
// creeps up by tens of MB. A fixed threshold (and two arenas, not one per thread) keeps
// them mmapped and returned on free. These are read only at process start, so the CLI
// re-executes itself once with them set (same PID: signals and waits are unaffected),
// for the commands that move volumes' worth of bytes; values a user sets are kept.
// A node daemon also starts with a 4 MiB young generation: V8 takes its initial size only
// from the command line, and the flags below never grow it past that. At V8's initial
// 1 MiB a daemon serving or receiving a 1 GiB sync collected it ~1,000-1,300 times
// (1.0-1.6 CPU-s); at 4 MiB ~250-310 times (0.5-0.7 CPU-s), for 7-13 MB more at the sending
// node's peak in a 1 GiB sync and up to 25 MB in a 4 GiB one (docs/PERFORMANCE.md, session 9).
const BULK = new Set(['snapshot', 'restore', 'publish', 'sync', 'verify', 'gc', 'node', 'tier'])
if (process.platform === 'linux' && BULK.has(process.argv[2]) && process.env.MALLOC_MMAP_THRESHOLD_ === undefined && typeof process.execve === 'function') {
  const { fileURLToPath } = await import('node:url')
  // --expose-gc: a quiet daemon collects what its last work left (node/idle-collect.ts)
  const young = process.argv[2] === 'node' ? ['--min-semi-space-size=4', '--expose-gc'] : []
  process.execve(process.execPath, [process.execPath, ...process.execArgv, ...young, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    ...process.env,
    MALLOC_MMAP_THRESHOLD_: '1048576',
    // a node daemon gets one: at 4 GiB its peak was ~10-17 MB lower, CPU the same (PERFORMANCE.md)
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? (process.argv[2] === 'node' ? '1' : '2')
  })
}
// Snapshots, restores and syncs make many short-lived objects per chunk. On a large
// machine V8 sizes its young generation for throughput and lets them pile up by the
// hundred megabytes; a small fixed one keeps memory ~70 MB lower for no measurable time.
// With a growth factor of 1 it stays at its initial size: V8's 1 MiB, or the 4 MiB a node
// daemon is started with above (the cap of 4 is then reached at once).
const v8 = await import('node:v8')
v8.setFlagsFromString('--max-semi-space-size=4')
v8.setFlagsFromString('--semi-space-growth-factor=1')
// A node daemon makes such objects for hours (every chunk it syncs or serves), and V8 sizes
// its next full collection from how fast it ran the last one: up to 4× the live heap, on
// pages it then keeps. A receiving node ended a 4 GiB sync at ~420 MB RSS with ~45 MB live.
// Collecting once the heap has grown by 75% holds it near 260 MB for about the same CPU
// (docs/PERFORMANCE.md, "4 GiB sync memory").
if (process.argv[2] === 'node') v8.setFlagsFromString('--heap-growing-percent=75')
const { main } = await import('./rok/main.ts')
await main(process.argv.slice(2))
