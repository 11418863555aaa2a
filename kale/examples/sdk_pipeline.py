"""A Kale SDK pipeline: plain Python functions, a fan-out and a fan-in.

Run it as a pipeline:   npx kale run kale/examples/sdk_pipeline.py --param n=8
Run it as plain Python: PYTHONPATH=kale/sdk python3 kale/examples/sdk_pipeline.py
"""
import statistics

from kale.sdk import pipeline, step

OFFSET = 100


class Summary:
    def __init__(self, mean, spread):
        self.mean = mean
        self.spread = spread

    def __repr__(self):
        return "Summary(mean=%s, spread=%s)" % (self.mean, self.spread)


@step(name="generate")
def generate(n):
    values = [OFFSET + i * i for i in range(n)]
    print("generated", len(values), "values")
    return values


@step(name="mean", labels={"stage": "stats"})
def mean(values):
    return statistics.fmean(values)


@step(name="spread", limits={"cpu": "500m"})
def spread(values):
    return max(values) - min(values)


@step(name="summarize")
def summarize(m, s, scale):
    summary = Summary(m * scale, s * scale)
    print("summary", summary)
    return summary, summary.mean > OFFSET


@pipeline(name="sdk-stats", experiment="examples")
def stats_pipeline(n=5, scale=1.0):
    values = generate(n)
    m = mean(values)
    s = spread(values)
    summary, above = summarize(m, s, scale)


if __name__ == "__main__":
    stats_pipeline()
