/**
 * The registry benchmark's seeded data and queries: the same seed gives the same words,
 * tags and searches on every run, so a kept store and a fresh one are searched alike.
 */

/** Seeded PRNG (mulberry32). */
export function prng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Workload {
  /** The PRNG that generated the words, to go on drawing bucket contents from. */
  rand: () => number
  pick: <T>(list: T[], r?: () => number) => T
  /** 3,000 made-up words of 2–4 syllables (with repeats, so some words are common). */
  vocab: string[]
  /** 60 tags. */
  tags: string[]
  /**
   * `count` distinct-ish search query strings (`q=…&tag=…`), as people ask them: a word
   * (common or rare), `imagenet`, the first letters of a word, two words, a word and a
   * prefix, a tag, a word within a tag, a word within a group, a group.
   */
  queries: (count: number, groups: number) => string[]
}

const SYLLABLES = ['ka', 'lo', 'mi', 'ner', 'to', 'vas', 'ri', 'quon', 'del', 'sa', 'bu', 'zen', 'fi', 'pra', 'gol', 'ux']

export function workload (seed: number): Workload {
  const rand = prng(seed)
  const pick = <T>(list: T[], r = rand): T => list[Math.floor(r() * list.length)]
  const vocab = Array.from({ length: 3000 }, () => Array.from({ length: 2 + Math.floor(rand() * 3) }, () => pick(SYLLABLES)).join(''))
  const tags = Array.from({ length: 60 }, (_, i) => `${pick(vocab).slice(0, 12)}${i}`)
  const queries = (count: number, groups: number): string[] => {
    const r = prng(seed + 1)
    const word = (): string => pick(vocab, r)
    const enc = encodeURIComponent
    const makers: Array<() => string> = [
      () => `q=${enc(word())}`,
      () => `q=${enc(word())}`,
      () => 'q=imagenet',
      () => `q=${enc(word().slice(0, 3 + Math.floor(r() * 3)))}`,
      () => `q=${enc(`${word()} ${word()}`)}`,
      () => `q=${enc(`${word()} ${word().slice(0, 4)}`)}`,
      () => `tag=${enc(pick(tags, r))}`,
      () => `q=${enc(word())}&tag=${enc(pick(tags, r))}`,
      () => `q=${enc(word())}&group=group${Math.floor(r() * groups)}`,
      () => `group=group${Math.floor(r() * groups)}`
    ]
    return Array.from({ length: count }, (_, i) => makers[i % makers.length]())
  }
  return { rand, pick, vocab, tags, queries }
}
