#!/usr/bin/env node
// npm links bins only of installed packages, never the project's own, so this local
// package (a `file:` dependency of the project) is what puts `kale` in node_modules/.bin.
// Node resolves the symlink to this real path, so the import below finds the launcher.
await import('../../bin/kale.js')
