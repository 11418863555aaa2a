/**
 * Writes the example notebooks in this folder from the compact definitions below, so
 * their content is reviewable here and the committed .ipynb files stay in sync:
 *   npx node kale/examples/build.ts
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

interface CellDef { tags?: string[], code: string, markdown?: boolean }

export function notebook (cells: CellDef[], kubeflow: Record<string, unknown> = {}): unknown {
  return {
    cells: cells.map(c => c.markdown === true
      ? { cell_type: 'markdown', metadata: {}, source: c.code }
      : {
          cell_type: 'code',
          execution_count: null,
          metadata: { tags: c.tags ?? [] },
          outputs: [],
          source: c.code.split(/(?<=\n)/)
        }),
    metadata: {
      kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
      language_info: { name: 'python' },
      kubeflow_notebook: kubeflow
    },
    nbformat: 4,
    nbformat_minor: 5
  }
}

export const examples: Record<string, unknown> = {
  'linear.ipynb': notebook([
    { markdown: true, code: '# A linear pipeline: load → square → total' },
    { tags: ['imports'], code: 'import math\n' },
    { tags: ['pipeline-parameters'], code: 'n = 5\nscale = 2.0\n' },
    { tags: ['step:load'], code: 'numbers = list(range(1, n + 1))\nprint("loaded", numbers)\n' },
    { tags: ['step:square', 'prev:load'], code: 'squares = [x * x * scale for x in numbers]\nprint("squares", squares)\n' },
    { tags: ['step:total', 'prev:square'], code: 'total = math.fsum(squares)\nprint("total", total)\n' },
    { tags: ['pipeline-metrics'], code: 'print(total)\n' }
  ], { pipeline_name: 'linear', experiment_name: 'examples', docker_image: 'python:3.11-slim' }),

  'fanout.ipynb': notebook([
    { tags: ['imports'], code: 'import time\n' },
    { tags: ['pipeline-parameters'], code: 'delay = 1.0\n' },
    { tags: ['step:source'], code: 'base = 10\nprint("source ready")\n' },
    { tags: ['step:left', 'prev:source'], code: 'started_left = time.time()\ntime.sleep(delay)\nleft = base + 1\nfinished_left = time.time()\nprint("left", started_left, finished_left)\n' },
    { tags: ['step:right', 'prev:source'], code: 'started_right = time.time()\ntime.sleep(delay)\nright = base * 2\nfinished_right = time.time()\nprint("right", started_right, finished_right)\n' },
    { tags: ['step:join', 'prev:left', 'prev:right'], code: 'combined = left + right\nprint("combined", combined)\n' },
    { tags: ['pipeline-metrics'], code: 'print(combined)\n' }
  ], { pipeline_name: 'fanout', steps_defaults: ['label:team:ml'] }),

  'features.ipynb': notebook([
    { markdown: true, code: 'Exercises the notebook features: skip, functions with a class, block: continuation, magics, mutation.' },
    { tags: ['imports'], code: '%matplotlib inline\nimport json\n' },
    { code: 'import collections\n' },
    { tags: ['functions'], code: 'class Tally:\n    def __init__(self):\n        self.counts = collections.Counter()\n    def add(self, word):\n        self.counts[word] += 1\n\ndef normalise(word):\n    return word.strip().lower()\n' },
    { tags: ['skip'], code: 'print("exploration only: never part of the pipeline")\nraise SystemExit("a skip cell ran")\n' },
    { tags: ['step:words'], code: '!echo "shell lines are dropped"\ntext = "The cat saw the Dog and the CAT"\nwords = [normalise(w) for w in text.split()]\n' },
    { tags: ['block:'], code: 'config = {"min": 2}\n' },
    { code: 'config["seen"] = len(words)\n' },
    { tags: ['step:count', 'prev:words', 'label:stage:count', 'annotation:note:counts words', 'limit:cpu:1', 'limit:memory:1Gi'], code: 'tally = Tally()\nfor w in words:\n    tally.add(w)\n' },
    { tags: ['step:report', 'prev:count', 'limit:nvidia.com/gpu:1'], code: 'frequent = sorted(w for w, c in tally.counts.items() if c >= config["min"])\ntotal_words = 0\ndef bump(k):\n    global total_words\n    total_words += k\nbump(config["seen"])\nprint(json.dumps({"frequent": frequent, "total": total_words}))\n' },
    { tags: ['step:report'], code: 'distinct = len(tally.counts)\n' },
    { tags: ['pipeline-metrics'], code: 'print(distinct)\nprint(total_words)\n' }
  ], { pipeline_name: 'features' }),

  'scientific.ipynb': notebook([
    { tags: ['imports'], code: 'import numpy as np\nimport pandas as pd\nfrom sklearn.linear_model import LinearRegression\n' },
    { tags: ['pipeline-parameters'], code: 'rows = 200\nseed = 7\n' },
    { tags: ['step:make_data'], code: 'rng = np.random.default_rng(seed)\nx = rng.normal(size=(rows, 1))\nframe = pd.DataFrame({"x": x[:, 0]})\nframe["y"] = 3.0 * frame["x"] + 1.0\n' },
    { tags: ['step:fit', 'prev:make_data'], code: 'model = LinearRegression()\nmodel.fit(frame[["x"]], frame["y"])\n' },
    { tags: ['step:evaluate', 'prev:fit'], code: 'slope = float(model.coef_[0])\nr2 = float(model.score(frame[["x"]], frame["y"]))\nprint("slope", slope, "r2", r2, "x", x.shape)\n' },
    { tags: ['pipeline-metrics'], code: 'print(slope)\nprint(r2)\n' }
  ], { pipeline_name: 'scientific' })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [name, nb] of Object.entries(examples)) {
    writeFileSync(new URL(name, import.meta.url), JSON.stringify(nb, null, 1) + '\n')
  }
}
