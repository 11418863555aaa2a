"""The Kale SDK: mark plain Python functions as pipeline steps.

    from kale.sdk import pipeline, step

    @step(name="load")
    def load(n):
        return list(range(n))

    @step(name="total")
    def total(numbers):
        return sum(numbers)

    @pipeline(name="numbers", experiment="examples")
    def numbers_pipeline(n=10):
        numbers = load(n)
        result = total(numbers)

`kale run module.py` and `kale compile module.py` read these decorators statically:
every call in the pipeline body becomes a step, the pipeline's keyword arguments with
literal defaults become its parameters, and a step depends on the steps whose results
it is called with. Run as plain Python, the decorated functions simply call through,
so the module still works (and is testable) without Kale. Standard library only.
"""
import functools

__all__ = ["pipeline", "step"]


def step(name=None, labels=None, annotations=None, limits=None):
    """Mark a function as a pipeline step.

    name: the step's name (default: the function's); lowercase letters, digits and _.
    labels, annotations: Kubernetes pod metadata for this step, {key: value}.
    limits: resource limits, e.g. {"nvidia.com/gpu": "1", "memory": "4Gi"}.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            return fn(*args, **kwargs)
        call.kale_step = {"name": name or fn.__name__, "labels": dict(labels or {}),
                          "annotations": dict(annotations or {}), "limits": dict(limits or {})}
        return call
    if callable(name):  # used bare: @step
        fn, name = name, None
        return decorate(fn)
    return decorate


def pipeline(name=None, experiment=None, description=None, image=None):
    """Mark the function whose body calls the steps, in order, as the pipeline.

    Its keyword arguments with int, float, str or bool defaults are the pipeline's
    parameters. name/experiment/description/image configure the compiled pipeline.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def call(*args, **kwargs):
            return fn(*args, **kwargs)
        call.kale_pipeline = {"name": name or fn.__name__, "experiment": experiment,
                              "description": description, "image": image}
        return call
    if callable(name):
        fn, name = name, None
        return decorate(fn)
    return decorate
