/**
 * The demo's sample dataset, generated from seeds so every run sees the same bytes and no
 * blob is committed: what an ML team versions — many small label files, medium feature
 * files, a few large shards and one large disk image (with repeated and zeroed regions,
 * as real images have). Writes stay fast: one buffer per file, large ones in 8 MiB blocks.
 */
import { appendFile, mkdir, open, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { seededBytes, seededRandom } from '../../test/fixtures/seeded.ts'

const MIB = 1024 * 1024
const BLOCK = 8 * MIB

export interface DatasetShape {
  /** Size of the disk image in MiB (a multiple of 8). */
  imageMib: number
  /** Number of large shards (2–7 MiB each). */
  shards: number
  /** Number of small label files (0.2–6 KiB). */
  labels: number
  /** Number of medium feature files (64 KiB–1 MiB). */
  features: number
}

export const DEFAULT_SHAPE: DatasetShape = { imageMib: 128, shards: 12, labels: 400, features: 48 }
/** About 15 MiB: every kind of file, for tests and slow machines. */
export const QUICK_SHAPE: DatasetShape = { imageMib: 8, shards: 1, labels: 160, features: 6 }

export interface DatasetSummary { bytes: number, files: number }

export async function writeDataset (root: string, shape: DatasetShape = DEFAULT_SHAPE): Promise<DatasetSummary> {
  const next = seededRandom(2026)
  let bytes = 0
  let files = 0
  const put = async (path: string, data: Uint8Array | string): Promise<void> => {
    await writeFile(path, data)
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length
    files++
  }
  for (let i = 0; i < shape.labels; i++) {
    const dir = join(root, 'labels', `part-${i % 10}`)
    await mkdir(dir, { recursive: true })
    await put(join(dir, `sample-${i}.json`), seededBytes(i, 200 + (next() % 6000)))
  }
  await mkdir(join(root, 'features'), { recursive: true })
  for (let i = 0; i < shape.features; i++) await put(join(root, 'features', `batch-${i}.npy`), seededBytes(5_000 + i, 64 * 1024 + (next() % (960 * 1024))))
  await mkdir(join(root, 'shards'), { recursive: true })
  for (let i = 0; i < shape.shards; i++) await put(join(root, 'shards', `shard-${i}.bin`), seededBytes(10_000 + i, (2 + (next() % 6)) * MIB))
  await writeImage(join(root, 'disk.img'), shape.imageMib)
  bytes += shape.imageMib * MIB
  files++
  await put(join(root, 'README.txt'), 'sample dataset v1\n')
  return { bytes, files }
}

/**
 * The image in 8 MiB blocks: most distinct, every seventh a copy of an earlier block (a
 * shared library or base layer), every eleventh left as a hole (zeros) — so even one
 * version deduplicates a little, as real disk images do.
 */
async function writeImage (path: string, mib: number): Promise<void> {
  const image = await open(path, 'w')
  try {
    for (let b = 0; b * BLOCK < mib * MIB; b++) {
      if (b % 11 === 10) continue
      const block = seededBytes(20_000 + (b % 7 === 6 ? b - 5 : b), BLOCK)
      await image.write(block, 0, block.length, b * BLOCK)
    }
    await image.truncate(mib * MIB)
  } finally {
    await image.close()
  }
}

/** v2, a small change: three labels edited, one feature file added, 51 bytes inserted into the image (shifting the rest). */
export async function changeDataset (root: string): Promise<string[]> {
  for (const i of [3, 77, 150]) await appendFile(join(root, 'labels', `part-${i % 10}`, `sample-${i}.json`), '{"relabelled":true}\n')
  await writeFile(join(root, 'features', 'batch-new.npy'), seededBytes(99_999, 256 * 1024))
  const image = await readFile(join(root, 'disk.img'))
  const at = 5_000_000
  await writeFile(join(root, 'disk.img'), Buffer.concat([image.subarray(0, at), Buffer.from('a small insertion that shifts the rest of the image'), image.subarray(at)]))
  await writeFile(join(root, 'README.txt'), 'sample dataset v2\n')
  return ['3 labels edited', '1 feature file added (256 KiB)', '51 bytes inserted into the image']
}

/** v3: one more shard. */
export async function extendDataset (root: string): Promise<void> {
  await writeFile(join(root, 'shards', 'shard-v3.bin'), seededBytes(77_777, 3 * MIB))
}

/** A small public folder for the public group's bucket. */
export async function writePublicSample (root: string): Promise<void> {
  await mkdir(root, { recursive: true })
  await writeFile(join(root, 'README.txt'), 'label schema and a few examples, free to use\n')
  for (let i = 0; i < 8; i++) await writeFile(join(root, `example-${i}.json`), seededBytes(30_000 + i, 2048))
}
