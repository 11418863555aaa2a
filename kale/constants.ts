/** Kale's defaults, in one place. Each is applied once, where its option is read. */

/** Python interpreter when neither `--python` nor `KALE_PYTHON` is set. */
export const DEFAULT_PYTHON = 'python3'
/** Image for compiled steps when neither the notebook nor `--image` names one. */
export const DEFAULT_IMAGE = 'python:3.11-slim'
/** How long the analysis helper may take before we give up on it. */
export const ANALYSIS_TIMEOUT_MS = 60_000
/** Steps running at once in `kale run` unless `--parallel` says otherwise. */
export const DEFAULT_PARALLEL = 4
/** Largest helper reply we accept, so a runaway helper cannot exhaust memory. */
export const MAX_HELPER_OUTPUT = 64 * 1024 * 1024
/** Bytes of a failing step's stderr kept for the run record and the error message. */
export const STDERR_TAIL_BYTES = 64 * 1024
/** Group of the Rok buckets that hold step snapshots: `kale/<pipeline>`. */
export const SNAPSHOT_GROUP = 'kale'
/** Deadline for each Kubeflow Pipelines API request in `kale submit`. */
export const KFP_REQUEST_TIMEOUT_MS = 30_000
