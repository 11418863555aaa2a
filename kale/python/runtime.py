# --- Kale step runtime: loads this step's inputs and saves its outputs. -----------------
# Embedded verbatim in every generated step, so a step needs nothing installed but python3.
# Formats: numpy arrays as .npy, pandas objects with their own pickle, scikit-learn
# models with joblib (each only when that library is already imported by the step's code),
# anything else with pickle.
import json as _kale_json
import os as _kale_os
import pickle as _kale_pickle
import sys as _kale_sys

def display(*objs, **_kw):
    # Notebooks call IPython's display(); a step's output is a text log, so print the
    # objects. (Importing IPython just for this costs up to seconds per step.)
    print(*objs)


class _KaleArgs:
    def __init__(self, argv, params):
        self.inputs, self.params, self.metric_files = {}, {}, {}
        self.output, self.metrics_json = None, None
        it = iter(argv)
        for flag in it:
            value = next(it)
            if flag == '--input':
                k, _, v = value.partition('=')
                self.inputs[k] = v
            elif flag == '--output':
                self.output = value
            elif flag == '--param':
                k, _, v = value.partition('=')
                self.params[k] = v
            elif flag == '--metric':
                k, _, v = value.partition('=')
                self.metric_files[k] = v
            elif flag == '--metrics-json':
                self.metrics_json = value
        for name, (kind, default) in params.items():
            raw = self.params.get(name)
            if raw is None:
                self.params[name] = default
            elif kind == 'bool':
                self.params[name] = raw.strip().lower() in ('true', '1', 'yes')
            else:
                self.params[name] = {'int': int, 'float': float, 'str': str}[kind](raw)


def _kale_fail(message):
    _kale_sys.stderr.write('kale: %s\n' % message)
    _kale_sys.stderr.flush()
    _kale_sys.exit(3)


def _kale_kind(value):
    mods = _kale_sys.modules
    if type(value) is type(_kale_sys):
        return 'module'
    np = mods.get('numpy')
    if np is not None and type(value) in (np.ndarray, np.memmap) and value.dtype != object:
        return 'npy'
    pd = mods.get('pandas')
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        return 'pdpkl'
    sk = mods.get('sklearn.base')
    if sk is not None and isinstance(value, sk.BaseEstimator):
        return 'joblib'
    return 'pkl'


def _kale_save(args, step, name, namespace):
    if name not in namespace:
        _kale_fail("step '%s' did not define '%s', which a later step reads" % (step, name))
    value = namespace[name]
    if (isinstance(value, type) or callable(value) and hasattr(value, '__code__')) and \
            getattr(value, '__module__', None) == '__main__':
        _kale_fail("cannot pass '%s' from step '%s': functions and classes are re-created only from the "
                   "functions cell; move its definition there" % (name, step))
    _kale_os.makedirs(args.output, exist_ok=True)
    kind = _kale_kind(value)
    path = _kale_os.path.join(args.output, name + '.' + kind)
    tmp = path + '.tmp'
    try:
        if kind == 'module':
            # A module imported inside a step is passed by name and imported again.
            with open(tmp, 'w') as f:
                f.write(value.__name__)
        elif kind == 'npy':
            with open(tmp, 'wb') as f:
                _kale_sys.modules['numpy'].save(f, value, allow_pickle=False)
        elif kind == 'pdpkl':
            value.to_pickle(tmp, compression=None)
        elif kind == 'joblib':
            import joblib
            joblib.dump(value, tmp)
        else:
            with open(tmp, 'wb') as f:
                _kale_pickle.dump(value, f, protocol=_kale_pickle.HIGHEST_PROTOCOL)
    except Exception as err:
        if _kale_os.path.exists(tmp):
            _kale_os.remove(tmp)
        _kale_fail("cannot pass '%s' from step '%s' to later steps: %s: %s" % (name, step, type(err).__name__, err))
    _kale_os.replace(tmp, path)


def _kale_map_private(path):
    # The file's pages, mapped from the page cache all at once (MAP_POPULATE, read-only so
    # nothing is copied), then made writable: a page is copied only when the step writes
    # to it, and writes never reach the saved file. numpy's own copy-on-write mapping
    # (mmap_mode='c') takes a page fault per page instead, several times slower for a
    # large array. Linux only; None where it is not available.
    import ctypes
    import mmap
    import weakref
    populate = getattr(mmap, 'MAP_POPULATE', None)
    if populate is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    with open(path, 'rb') as f:
        size = _kale_os.fstat(f.fileno()).st_size
        if size == 0:
            return None
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_PRIVATE | populate, f.fileno(), 0)
    if addr is None or addr == ctypes.c_void_p(-1).value:
        return None
    if libc.mprotect(addr, size, mmap.PROT_READ | mmap.PROT_WRITE) != 0:
        libc.munmap(addr, size)
        return None
    buf = (ctypes.c_char * size).from_address(addr)
    weakref.finalize(buf, libc.munmap, addr, size)
    return buf


def _kale_load_npy(path):
    import numpy
    fmt = numpy.lib.format
    try:
        with open(path, 'rb') as f:
            version = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            offset = f.tell()
        count = 1
        for n in shape:
            count *= n
        buf = _kale_map_private(path) if count > 0 and not dtype.hasobject else None
    except Exception:
        buf = None
    if buf is None:
        # Copy-on-write mapping through numpy: pages come in as the step touches them.
        return numpy.load(path, mmap_mode='c', allow_pickle=False)
    array = numpy.frombuffer(buf, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order='F' if fortran else 'C')


def _kale_handoff(step, namespace, names):
    # Run by Kale's warm interpreter (python/warm.py), a linear chain's next step may be
    # forked here, inheriting NAMES instead of loading them; elsewhere this does nothing.
    hooks = _kale_sys.modules.get('_kale_warm')
    if hooks is not None and hasattr(hooks, 'handoff'):
        hooks.handoff(step, namespace, names)


def _kale_load(args, producer, name):
    hooks = _kale_sys.modules.get('_kale_warm')
    if hooks is not None and (producer, name) in hooks.inherited:
        return hooks.inherited.pop((producer, name))
    folder = args.inputs.get(producer)
    if folder is None:
        _kale_fail("no --input given for step '%s', which saved '%s'" % (producer, name))
    for kind in ('npy', 'pdpkl', 'joblib', 'module', 'pkl'):
        path = _kale_os.path.join(folder, name + '.' + kind)
        if not _kale_os.path.exists(path):
            continue
        if kind == 'npy':
            return _kale_load_npy(path)
        if kind == 'pdpkl':
            import pandas
            return pandas.read_pickle(path, compression=None)
        if kind == 'joblib':
            import joblib
            return joblib.load(path)
        if kind == 'module':
            import importlib
            with open(path) as f:
                return importlib.import_module(f.read().strip())
        with open(path, 'rb') as f:
            return _kale_pickle.load(f)
    _kale_fail("step '%s' saved no value for '%s' in %s" % (producer, name, folder))


def _kale_report_metrics(args, namespace, names):
    values = {}
    for name in names:
        value = namespace.get(name)
        try:
            values[name] = float(value)
        except (TypeError, ValueError):
            _kale_fail("metric '%s' must be a number, not %s" % (name, type(value).__name__))
        if name in args.metric_files:
            path = args.metric_files[name]
            _kale_os.makedirs(_kale_os.path.dirname(path) or '.', exist_ok=True)
            with open(path, 'w') as f:
                f.write(repr(values[name]))
    if args.metrics_json:
        with open(args.metrics_json, 'w') as f:
            _kale_json.dump(values, f)
# --- end of Kale step runtime ---------------------------------------------------------------
