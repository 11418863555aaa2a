/**
 * Include/exclude globs of a snapshot policy, as a path filter for node/snapshot.
 * `*` matches within one path segment, `**` any number of segments, `?` one character,
 * `[abc]` a character class. A pattern without '/' matches a name at any depth (like
 * .gitignore); with '/' it matches the path from the snapshot's root. An excluded
 * folder is skipped whole; with include patterns, only files matching one are taken
 * (folders are always entered, so `*.parquet` finds them at any depth).
 */
import { RokError } from '../../protocol/errors.ts'
import { PolicyErrorCode } from './errors.ts'

export const MAX_GLOB_LENGTH = 1024

export function globToRegExp (glob: string): RegExp {
  if (glob === '' || glob.length > MAX_GLOB_LENGTH || /[\u0000-\u001f]/.test(glob)) {
    throw new RokError(PolicyErrorCode.BAD_POLICY, `glob "${glob.slice(0, 80)}" must be 1-${MAX_GLOB_LENGTH} printable characters`)
  }
  const anchored = glob.replace(/^\/+/, '')
  let re = ''
  for (let i = 0; i < anchored.length; i++) {
    const c = anchored[i]
    if (c === '*' && anchored[i + 1] === '*') {
      i++
      if (anchored[i + 1] === '/') { i++; re += '(?:.*/)?' } else re += '.*'
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[') {
      const end = anchored.indexOf(']', i + 1)
      if (end === -1) throw new RokError(PolicyErrorCode.BAD_POLICY, `glob "${glob}" has a "[" without its "]"`)
      re += '[' + anchored.slice(i + 1, end).replace(/\\/g, '\\\\').replace(/^!/, '^') + ']'
      i = end
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&')
  }
  const prefix = glob.includes('/') ? '^' : '^(?:.*/)?'
  return new RegExp(prefix + re + '$')
}

/** The filter for snapshotVolume, or undefined when there is nothing to filter. */
export function pathFilter (include: string[] = [], exclude: string[] = []): ((rel: string, isDir: boolean) => boolean) | undefined {
  if (include.length === 0 && exclude.length === 0) return undefined
  const inc = include.map(globToRegExp)
  const exc = exclude.map(globToRegExp)
  return (rel, isDir) => {
    if (exc.some(r => r.test(rel))) return false
    if (isDir || inc.length === 0) return true
    return inc.some(r => r.test(rel))
  }
}
