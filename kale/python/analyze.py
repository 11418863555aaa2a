#!/usr/bin/env python3
"""Kale's static-analysis helper: Python's own parser answers questions about Python code.

Reads one JSON request on stdin and writes one JSON reply on stdout; uses only the
standard library so it runs under any python3 >= 3.8. Requests:

  {"op": "notebook", "prelude": [CHUNK], "parameters": [CHUNK], "metrics": [CHUNK],
   "steps": [{"name": str, "chunks": [CHUNK]}]}
  {"op": "sdk", "source": str}

A CHUNK is {"cell": int|null, "firstLine": int, "code": str}: one notebook cell (or one
slice of a module) and where its first line sits, so every location we report points at
the user's cell and line. Compile problems come back as
{"error": {"code", "message", "cell", "line"}} rather than a crash.
"""
import ast
import builtins
import json
import symtable
import sys

BUILTINS = set(dir(builtins)) | {
    '__name__', '__file__', '__doc__', '__builtins__', '__spec__', '__loader__',
    # IPython puts these in every notebook's namespace; the step runtime provides them.
    'display', 'get_ipython',
}
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
MATCH_CAPTURES = tuple(getattr(ast, n) for n in ('MatchAs', 'MatchStar', 'MatchMapping') if hasattr(ast, n))


class CompileProblem(Exception):
    def __init__(self, code, message, cell=None, line=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.cell = cell
        self.line = line


def parse_chunk(chunk):
    try:
        return ast.parse(chunk['code'])
    except SyntaxError as err:
        line = chunk['firstLine'] - 1 + (err.lineno or 1)
        raise CompileProblem('ERR_KALE_SYNTAX', 'invalid Python: %s' % (err.msg,), chunk.get('cell'), line)


def table_key(table):
    return (table.get_lineno(), table.get_name())


def node_key(node):
    if isinstance(node, ast.Lambda):
        return (node.lineno, 'lambda')
    if isinstance(node, ast.ListComp):
        return (node.lineno, 'listcomp')
    if isinstance(node, ast.SetComp):
        return (node.lineno, 'setcomp')
    if isinstance(node, ast.DictComp):
        return (node.lineno, 'dictcomp')
    if isinstance(node, ast.GeneratorExp):
        return (node.lineno, 'genexpr')
    return (node.lineno, node.name)


def scope_globals(table):
    """Global names a nested scope (and its children) reads, and the ones it assigns via `global`."""
    reads, writes = set(), set()
    for sym in table.get_symbols():
        if sym.is_global() and sym.is_referenced():
            reads.add(sym.get_name())
        if sym.is_declared_global() and sym.is_assigned():
            writes.add(sym.get_name())
    for child in table.get_children():
        r, w = scope_globals(child)
        reads |= r
        writes |= w
    if table.get_type() == 'class':
        # A class body's own assignments are class attributes, not module names.
        reads |= {s.get_name() for s in table.get_symbols()
                  if s.is_referenced() and not s.is_assigned() and not s.is_local() and not s.is_free()}
    return reads, writes


def root_name(node):
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class BlockAnalysis:
    """Names one step defines and the names it needs from earlier steps, in execution order."""

    def __init__(self):
        self.bound = set()
        self.defines = []
        self.reads = {}
        self.nested_reads = {}
        self.warnings = []

    def define(self, name):
        self.bound.add(name)
        if name not in self.defines:
            self.defines.append(name)

    def read(self, name, where):
        if name not in self.bound and name not in self.reads:
            self.reads[name] = where

    def add_chunk(self, chunk):
        tree = parse_chunk(chunk)
        children = {}
        for child in symtable.symtable(chunk['code'], '<cell>', 'exec').get_children():
            children.setdefault(table_key(child), []).append(child)
        walker = OrderedWalker(self, chunk, children)
        for stmt in tree.body:
            walker.statement(stmt)

    def result(self):
        reads = [dict(name=n, cell=w[0], line=w[1], builtin=n in BUILTINS) for n, w in self.reads.items()]
        for name, where in self.nested_reads.items():
            # A function body runs later, so a name it reads may be bound later in this step.
            if name not in self.bound and name not in self.reads:
                reads.append(dict(name=name, cell=where[0], line=where[1], builtin=name in BUILTINS))
        return {'defines': self.defines, 'reads': reads, 'warnings': self.warnings}


class OrderedWalker:
    """Walks module-level code in evaluation order (a value before its targets)."""

    def __init__(self, block, chunk, children):
        self.block = block
        self.chunk = chunk
        self.children = children

    def where(self, node):
        return (self.chunk.get('cell'), self.chunk['firstLine'] - 1 + getattr(node, 'lineno', 1))

    def statement(self, node):
        self.visit(node)

    def visit_list(self, nodes):
        for n in nodes:
            if n is not None:
                self.visit(n)

    def visit(self, node):
        b = self.block
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                b.read(node.id, self.where(node))
            elif isinstance(node.ctx, ast.Store):
                b.define(node.id)
            return
        if isinstance(node, ast.Assign):
            self.visit(node.value)
            self.visit_list(node.targets)
            return
        if isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self.visit(node.value)
                self.visit(node.target)
            return
        if isinstance(node, ast.AugAssign):
            name = root_name(node.target)
            if name is not None:
                b.read(name, self.where(node))
            self.visit(node.value)
            self.store_target(node.target)
            return
        if isinstance(node, ast.NamedExpr):
            self.visit(node.value)
            self.visit(node.target)
            return
        if isinstance(node, (ast.For, ast.AsyncFor)):
            self.visit(node.iter)
            self.visit(node.target)
            self.visit_list(node.body)
            self.visit_list(node.orelse)
            return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self.visit(item.context_expr)
                if item.optional_vars is not None:
                    self.visit(item.optional_vars)
            self.visit_list(node.body)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == '*':
                    b.warnings.append(dict(message='`from %s import *` hides which names it defines; Kale cannot track them' % node.module,
                                           cell=self.chunk.get('cell'), line=self.where(node)[1]))
                    continue
                b.define(alias.asname or alias.name.split('.')[0])
            return
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            self.visit(node.value)
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)
            self.store_target(node)
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
            # `model.fit(X, y)` or `items.append(x)` changes the object in place, so a later
            # step must see this step's copy: count the call as a (re)definition.
            self.visit(node.value)
            name = root_name(node.value.func.value)
            if name is not None:
                b.define(name)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.visit_list(node.decorator_list)
            if isinstance(node, ast.ClassDef):
                self.visit_list(node.bases)
                self.visit_list([k.value for k in node.keywords])
            else:
                self.visit_list(node.args.defaults)
                self.visit_list([d for d in node.args.kw_defaults if d is not None])
            self.nested(node)
            b.define(node.name)
            return
        if isinstance(node, ast.Lambda):
            self.visit_list(node.args.defaults)
            self.nested(node)
            return
        if isinstance(node, COMPREHENSIONS):
            # The first iterable is evaluated in the enclosing scope; the rest is its own scope.
            self.visit(node.generators[0].iter)
            self.nested(node)
            return
        if isinstance(node, ast.Global):
            return
        if isinstance(node, ast.ExceptHandler):
            # `except E as err:` binds a plain string name, not a Name node.
            if node.type is not None:
                self.visit(node.type)
            if node.name:
                b.define(node.name)
            self.visit_list(node.body)
            return
        if isinstance(node, MATCH_CAPTURES):
            # `case {"k": v, **rest}`, `case [x, *more]`, `case str() as s` bind names too.
            for child in ast.iter_child_nodes(node):
                self.visit(child)
            for attr in ('name', 'rest'):
                if getattr(node, attr, None):
                    b.define(getattr(node, attr))
            return
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def store_target(self, target):
        name = root_name(target)
        if name is None:
            return
        if isinstance(target, ast.Name):
            self.block.define(name)
        else:
            # `df['x'] = ...` reads df and makes this step's df an output.
            self.block.read(name, self.where(target))
            self.block.define(name)

    def nested(self, node):
        tables = self.children.get(node_key(node))
        if not tables:
            return
        table = tables.pop(0)
        reads, writes = scope_globals(table)
        for name in sorted(reads):
            if name not in self.block.bound:
                self.block.nested_reads.setdefault(name, self.where(node))
        for name in sorted(writes):
            self.block.define(name)


def analyze_block(chunks):
    block = BlockAnalysis()
    for chunk in chunks:
        block.add_chunk(chunk)
    return block.result()


def literal_value(node):
    if isinstance(node, ast.Constant) and type(node.value) in (int, float, str, bool):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) and \
            isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    raise ValueError('not a literal')


TYPE_NAMES = {bool: 'bool', int: 'int', float: 'float', str: 'str'}


def parse_parameters(chunks):
    params = []
    for chunk in chunks:
        for stmt in parse_chunk(chunk).body:
            line = chunk['firstLine'] - 1 + stmt.lineno
            ok = isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)
            if ok:
                try:
                    value = literal_value(stmt.value)
                except ValueError:
                    ok = False
            if not ok:
                raise CompileProblem('ERR_KALE_INVALID_PARAMETER',
                                     'a pipeline-parameters cell may only hold assignments like `lr = 0.1` of an int, float, str or bool literal',
                                     chunk.get('cell'), line)
            params.append(dict(name=stmt.targets[0].id, type=TYPE_NAMES[type(value)], value=value,
                               cell=chunk.get('cell'), line=line))
    return params


def parse_metrics(chunks):
    metrics = []
    for chunk in chunks:
        for stmt in parse_chunk(chunk).body:
            line = chunk['firstLine'] - 1 + stmt.lineno
            call = stmt.value if isinstance(stmt, ast.Expr) else None
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == 'print'
                    and len(call.args) == 1 and not call.keywords and isinstance(call.args[0], ast.Name)):
                raise CompileProblem('ERR_KALE_INVALID_METRIC',
                                     'a pipeline-metrics cell may only hold lines like `print(accuracy)`',
                                     chunk.get('cell'), line)
            metrics.append(dict(name=call.args[0].id, cell=chunk.get('cell'), line=line))
    return metrics


def analyze_notebook(req):
    prelude = analyze_block(req.get('prelude', []))
    steps = [dict(name=s['name'], **analyze_block(s['chunks'])) for s in req.get('steps', [])]
    return {
        'prelude': prelude,
        'parameters': parse_parameters(req.get('parameters', [])),
        'metrics': parse_metrics(req.get('metrics', [])),
        'steps': steps,
    }


# --- SDK modules -----------------------------------------------------------------------

def decorator_info(dec):
    """('step'|'pipeline', kwargs) for @step/@pipeline/@sdk.step(...), else None."""
    call = dec if isinstance(dec, ast.Call) else None
    target = call.func if call else dec
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, 'id', None)
    if name not in ('step', 'pipeline'):
        return None
    kwargs = {}
    for kw in (call.keywords if call else []):
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except ValueError:
            raise CompileProblem('ERR_KALE_INVALID_SDK_MODULE',
                                 '@%s(%s=...) must be a literal value' % (name, kw.arg), None, kw.value.lineno)
    return name, kwargs


def analyze_sdk(req):
    source = req['source']
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise CompileProblem('ERR_KALE_SYNTAX', 'invalid Python: %s' % err.msg, None, err.lineno)
    lines = source.split('\n')
    blank = set()
    steps_by_fn = {}
    pipeline = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            mod = node.module if isinstance(node, ast.ImportFrom) else node.names[0].name
            if mod and (mod == 'kale' or mod.startswith('kale.')):
                blank.update(range(node.lineno, node.end_lineno + 1))
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and \
                isinstance(node.test.left, ast.Name) and node.test.left.id == '__name__':
            # `if __name__ == '__main__': my_pipeline()` must not run inside every step.
            blank.update(range(node.lineno, node.end_lineno + 1))
        if not isinstance(node, ast.FunctionDef):
            continue
        for dec in node.decorator_list:
            info = decorator_info(dec)
            if info is None:
                continue
            kind, kwargs = info
            blank.update(range(dec.lineno, dec.end_lineno + 1))
            if kind == 'step':
                steps_by_fn[node.name] = dict(function=node.name, line=node.lineno, options=kwargs)
            else:
                if pipeline is not None:
                    raise CompileProblem('ERR_KALE_INVALID_SDK_MODULE', 'a module may define only one @pipeline', None, node.lineno)
                pipeline = (node, kwargs)
    if pipeline is None:
        raise CompileProblem('ERR_KALE_INVALID_SDK_MODULE', 'no function decorated with @pipeline', None, 1)
    fn, options = pipeline
    blank.update(range(fn.lineno, fn.end_lineno + 1))

    params = []
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults)):
        try:
            value = literal_value(default) if default is not None else None
        except ValueError:
            value = None
        if value is None:
            raise CompileProblem('ERR_KALE_INVALID_PARAMETER',
                                 'pipeline argument `%s` needs a default int, float, str or bool literal; it is a pipeline parameter' % arg.arg,
                                 None, arg.lineno)
        params.append(dict(name=arg.arg, type=TYPE_NAMES[type(value)], value=value, cell=None, line=arg.lineno))

    calls = []
    counts = {}
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str):
            continue
        if isinstance(stmt, ast.Pass):
            continue
        call = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        targets_ok = not isinstance(stmt, ast.Assign) or (len(stmt.targets) == 1 and all(
            isinstance(t, ast.Name) for t in (stmt.targets[0].elts if isinstance(stmt.targets[0], ast.Tuple) else [stmt.targets[0]])))
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in steps_by_fn and targets_ok):
            raise CompileProblem('ERR_KALE_INVALID_SDK_MODULE',
                                 'the @pipeline body may only call @step functions, like `data = load(n)` or `a, b = split(data)`',
                                 None, stmt.lineno)
        info = steps_by_fn[call.func.id]
        base = info['options'].get('name') or call.func.id
        counts[base] = counts.get(base, 0) + 1
        name = base if counts[base] == 1 else '%s_%d' % (base, counts[base])
        segment = ast.get_source_segment(source, stmt)
        reads = sorted({n.id for a in call.args + [k.value for k in call.keywords]
                        for n in ast.walk(a) if isinstance(n, ast.Name)})
        targets = []
        if isinstance(stmt, ast.Assign):
            t = stmt.targets[0]
            targets = [e.id for e in t.elts] if isinstance(t, ast.Tuple) else [t.id]
        calls.append(dict(name=name, function=call.func.id, line=stmt.lineno, code=segment,
                          options=info['options'], reads=reads, targets=targets))
    prelude = '\n'.join('' if (i + 1) in blank else l for i, l in enumerate(lines))
    return {'pipeline': dict(options=options, function=fn.name, line=fn.lineno),
            'parameters': params, 'steps': calls, 'prelude': prelude}


def main():
    req = json.load(sys.stdin)
    op = req.get('op')
    try:
        if op == 'notebook':
            out = analyze_notebook(req)
        elif op == 'sdk':
            out = analyze_sdk(req)
        else:
            out = {'error': dict(code='ERR_KALE_PYTHON', message='unknown op %r' % op, cell=None, line=None)}
    except CompileProblem as p:
        out = {'error': dict(code=p.code, message=p.message, cell=p.cell, line=p.line)}
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
