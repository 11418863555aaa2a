/**
 * Crash points for the kill -9 tests: with ROK_FAILPOINT=NAME:N in its environment, a
 * process SIGKILLs itself the N-th time it reaches `failpoint(NAME)`. That is a kill -9 at
 * an exact step (after the first slice of a gc sweep, say), which a kill sent from outside
 * on a timer hits only by luck on a loaded machine. Unset, a call is one comparison.
 */
const [target, count] = (process.env.ROK_FAILPOINT ?? '').split(':')
let remaining = Number(count ?? '1') || 1

export function failpoint (name: string): void {
  if (name !== target) return
  if (--remaining === 0) process.kill(process.pid, 'SIGKILL')
}
