# Kale's warm interpreter for `kale run`: one per run. It imports the modules the
# pipeline's imports/functions cells import (numpy, pandas, ...) once, then forks one
# child process per step, so a step starts in milliseconds instead of paying python3's
# start and its imports again. Each child is still its own process: its own stdout and
# stderr (Unix sockets to Kale, connected before the fork), its own exit status and
# traceback, run as `__main__` from the step's script file exactly as `python3 -u SCRIPT`
# would run it.
#
#   python3 -u warm.py SOCKET
#
# Requests on stdin, replies on stdout, one JSON object per line:
#   {"op": "warm", "sources": [CODE, ...]}          -> {"op": "warmed", "failed": [MODULE, ...], "executable": PATH}
#   {"op": "run", "id": ID, "script": PATH, "args": [...], "cwd": DIR}
#                                                   -> {"op": "started", "id": ID, "pid": PID}
#                                                      or {"op": "error", "id": ID, "message": TEXT}
#   (later)                                         -> {"op": "exit", "id": ID, "code": N | null, "signal": N | null}
#   {"op": "adopt", "id": ID, "pid": PID}           -> (later) {"op": "exit", ...} for a step another step forked
#
# Hand-off (a run request with "handoff": true): a linear chain's next step is forked from
# the step before it once that step's own code has finished, so it inherits the values it
# reads instead of loading them from disk, while the step before saves them for re-runs.
# At that point the step connects a third socket (`ID 3`) and reads one line: the next
# step's run request (or end of stream: none), forks it, and answers {"pid": PID}. The
# child unwinds the step's frames, drops its names, and runs the next script as a fresh
# `__main__` seeing only the inherited values its loads ask for. This interpreter is the
# child subreaper, so it reaps the forked step when the step before exits first.
# End of stdin: every child still running is killed and the server exits.
import ast
import json
import os
import signal
import socket
import sys
import threading
import warnings

SOCKET_PATH = sys.argv[1]

# The protocol gets its own descriptors; 0 and 1 become /dev/null so nothing a warmed
# module prints can corrupt it, and children start with stdin at /dev/null as before.
PROTO_IN = os.fdopen(os.dup(0), 'rb')
PROTO_OUT = os.dup(1)
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)
os.dup2(_null, 1)
os.close(_null)
# sys.path[0] is this file's folder; a step gets its script's folder there instead, as
# for any script run by path (Kale's own files hold nothing a step should import).
del sys.path[0]
signal.signal(signal.SIGINT, signal.SIG_IGN)
_PRISTINE_PATH = list(sys.path)
_PRISTINE_ENV = dict(os.environ)
_warmed = []          # modules the prelude imports: a step that changes them hands off nothing


def _become_subreaper():
    try:
        import ctypes
        PR_SET_CHILD_SUBREAPER = 36
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except Exception:
        return False


_SUBREAPER = _become_subreaper()

_reply_lock = threading.Lock()
_children = {}        # pid -> request id
_orphans = {}         # pid -> wait status, of children reaped before anyone claimed them
_children_lock = threading.Condition()


def reply(obj):
    data = (json.dumps(obj) + '\n').encode()
    with _reply_lock:
        while data:
            data = data[os.write(PROTO_OUT, data):]


def imported_modules(source):
    """Modules a cell imports at its top level (also inside top-level try/if)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
        elif isinstance(node, (ast.Try, ast.If)):
            pending.extend(node.body)
    return names


def warm(sources):
    failed = []
    for source in sources:
        for name in imported_modules(source):
            if name in sys.modules:
                _warmed.append(name)
                continue
            try:
                __import__(name)
                _warmed.append(name)
            except BaseException:  # the step itself will raise it, with its own traceback
                failed.append(name)
    return failed


def module_state():
    """What each imported module's names point at: a step that rebinds one (`json.x = 1`)
    would leak it into a step forked from it, so such a step hands off nothing."""
    state = []
    for name in _warmed:
        mod = sys.modules.get(name)
        state.append(None if mod is None else tuple((k, id(v)) for k, v in list(vars(mod).items())))
    return state


def reap():
    while True:
        with _children_lock:
            while not _children:
                _children_lock.wait()
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            continue
        with _children_lock:
            rid = _children.pop(pid, None)
            if rid is None:
                # A step forked by another step, orphaned before Kale said whose it is (or
                # a step's own orphaned process: a few bytes each, kept for the run).
                _orphans[pid] = status
                continue
            report_exit(rid, status)


def report_exit(rid, status):
    if os.WIFSIGNALED(status):
        reply({'op': 'exit', 'id': rid, 'code': None, 'signal': os.WTERMSIG(status)})
    else:
        reply({'op': 'exit', 'id': rid, 'code': os.waitstatus_to_exitcode(status), 'signal': None})


def adopt(req):
    with _children_lock:
        status = _orphans.pop(req['pid'], None)
        if status is not None:
            report_exit(req['id'], status)
        else:
            _children[req['pid']] = req['id']
            _children_lock.notify()


def connect(rid, fd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCKET_PATH)
    s.sendall(('%s %d\n' % (rid, fd)).encode())
    return s


class _Become(BaseException):
    """Raised in a step forked by hand-off: unwinds the step before's frames so the next
    step runs from here as if forked from this interpreter, with the inherited values."""

    def __init__(self, req, out, err, inherited):
        super().__init__()
        self.req, self.out, self.err, self.inherited = req, out, err, inherited


def child(req, out, err):
    """In the forked child: become `python3 -u SCRIPT ARGS...` and never return."""
    PROTO_IN.close()
    os.close(PROTO_OUT)
    inherited = {}
    code = 0
    try:
        import atexit
        import builtins
        import types
        while True:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            out.close()
            err.close()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            os.chdir(req['cwd'])
            script = req['script']
            sys.argv = [script] + list(req['args'])
            sys.path[:] = [os.path.dirname(script)] + _PRISTINE_PATH
            np_random = sys.modules.get('numpy.random')
            if np_random is not None:
                # numpy seeds its global generator from the OS when imported: a fresh process
                # per step gets fresh numbers, so each forked step must too.
                np_random.seed()
            hooks = types.ModuleType('_kale_warm')
            hooks.inherited = inherited
            if req.get('handoff') and _SUBREAPER:
                hooks.handoff = _handoff_from(req['id'], module_state())
            sys.modules['_kale_warm'] = hooks
            main = types.ModuleType('__main__')
            main.__file__ = script
            main.__builtins__ = builtins
            sys.modules['__main__'] = main
            try:
                with open(script, 'rb') as f:
                    compiled = compile(f.read(), script, 'exec')
                exec(compiled, main.__dict__)
            except _Become as b:
                # Now the next step: nothing of the step before but what it handed on.
                main.__dict__.clear()
                atexit._clear()
                os.environ.clear()
                os.environ.update(_PRISTINE_ENV)
                req, out, err, inherited = b.req, b.out, b.err, b.inherited
                del b
                continue
            except SystemExit as e:
                code = e.code
            except KeyboardInterrupt:
                print_exception(sys.exc_info())
                sys.stderr.flush()
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGINT)
            except BaseException:
                print_exception(sys.exc_info())
                code = 1
            break
        # What the interpreter does at exit: wait for the step's threads, run its atexit
        # handlers, flush.
        try:
            threading._shutdown()
        except BaseException:
            pass
        atexit._run_exitfuncs()
        if code is None:
            code = 0
        elif not isinstance(code, int):
            sys.stderr.write(str(code) + '\n')
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
    except BaseException:
        code = 1
    os._exit(code & 0xff)


def _handoff_from(rid, state_before):
    """The hook a step's script calls once its own code has run (`_kale_handoff`)."""
    def handoff(step, namespace, names):
        # A thread of the step's own may hold a lock (stdout's, logging's) that a fork
        # would copy held forever; and a changed module would leak. Then B starts as usual.
        if threading.active_count() > 1 or module_state() != state_before:
            return
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        try:
            control = connect(rid, 3)
        except OSError:
            return
        with control:
            line = control.makefile('rb').readline()
            if not line:
                return
            req = json.loads(line)
            try:
                out = connect(req['id'], 1)
                err = connect(req['id'], 2)
                # The next step's exit must reach its parent's wait, not vanish.
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                pid = os.fork()
            except OSError as e:
                control.sendall((json.dumps({'error': 'cannot fork: %s' % e}) + '\n').encode())
                return
            if pid == 0:
                control.close()
                raise _Become(req, out, err, {(step, n): namespace[n] for n in names if n in namespace})
            out.close()
            err.close()
            control.sendall((json.dumps({'pid': pid}) + '\n').encode())
    return handoff


def print_exception(info):
    """A traceback as `python3 SCRIPT` prints it: without this server's own frames."""
    import traceback
    etype, value, tb = info
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    traceback.print_exception(etype, value, tb)


def run(req):
    rid = req['id']
    try:
        out = connect(rid, 1)
        err = connect(rid, 2)
    except OSError as e:
        reply({'op': 'error', 'id': rid, 'message': 'cannot connect the step output: %s' % e})
        return
    with _children_lock:
        with warnings.catch_warnings():
            # Python 3.12+ warns that forking a process with threads (numpy's BLAS pool)
            # may deadlock; the child runs only this thread's code and resets what it uses.
            warnings.simplefilter('ignore', DeprecationWarning)
            try:
                pid = os.fork()
            except OSError as e:
                out.close()
                err.close()
                reply({'op': 'error', 'id': rid, 'message': 'cannot fork: %s' % e})
                return
        if pid == 0:
            child(req, out, err)
        _children[pid] = rid
        # Replied under the lock: the reaper cannot report this child's exit before Kale
        # has heard it started (a step can finish within microseconds).
        reply({'op': 'started', 'id': rid, 'pid': pid})
        _children_lock.notify()
    out.close()
    err.close()


def main():
    threading.Thread(target=reap, daemon=True).start()
    for line in PROTO_IN:
        req = json.loads(line)
        if req['op'] == 'warm':
            reply({'op': 'warmed', 'failed': warm(req['sources']), 'executable': sys.executable or ''})
        elif req['op'] == 'run':
            run(req)
        elif req['op'] == 'adopt':
            adopt(req)
    with _children_lock:
        for pid in list(_children):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    os._exit(0)


main()
