/**
 * The gear table: 256 pseudo-random 32-bit values, one per byte value. It is part of the
 * chunk format — changing it moves every boundary — so it is generated from a fixed seed
 * (splitmix32) rather than left to a random source, and golden tests pin its effect.
 */
export const GEAR_SEED = 0x526f6b31 // "Rok1"

function splitmix32 (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) | 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) | 0
  }
}

export const GEAR: Int32Array = (() => {
  const next = splitmix32(GEAR_SEED)
  const table = new Int32Array(256)
  for (let i = 0; i < 256; i++) table[i] = next()
  return table
})()
