"""The package's shape: small modules and functions, no import cycle (walks the source with ast).

``KNOWN`` lists what is still over the limits (debt to pay down, never to grow): a module or function
not listed must stay within them, and a listed one must not grow past its recorded size.
"""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "neurodeploy"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80

# module path (or module path::function) → current size; shrink these, never raise them
KNOWN = {
}


def _modules():
    for p in sorted(PKG.rglob("*.py")):
        yield p.relative_to(PKG.parent).as_posix(), p


def _name(rel: str) -> str:
    mod = rel[:-3].replace("/", ".")
    return mod[: -len(".__init__")] if mod.endswith(".__init__") else mod


def test_module_and_function_sizes():
    over = []
    for rel, p in _modules():
        src = p.read_text()
        n = len(src.splitlines())
        if n > max(MAX_MODULE_LINES, KNOWN.get(rel, 0)):
            over.append(f"{rel}: {n} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                key = f"{rel}::{node.name}"
                if length > max(MAX_FUNCTION_LINES, KNOWN.get(key, 0)):
                    over.append(f"{key}: {length} lines (limit {MAX_FUNCTION_LINES})")
    assert not over, "\n".join(over)


def _imports(rel: str, tree: ast.Module) -> set[str]:
    """neurodeploy modules imported anywhere in the file — at module level and inside functions — resolved
    to module names."""
    me = _name(rel)
    pkg = me if rel.endswith("__init__.py") else me.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("neurodeploy")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("neurodeploy"):
                continue
            out.add(mod)
            for a in node.names:            # `from . import rules` imports a module
                out.add(f"{mod}.{a.name}")
    return out


def _graph() -> dict[str, set[str]]:
    """module → the package modules it imports (parent packages of an imported module included, a package's
    own submodules excluded: ``a/__init__`` importing ``a.b`` is how a package hands names on)."""
    names = {_name(rel) for rel, _ in _modules()}
    graph = {}
    for rel, p in _modules():
        deps = {d for d in _imports(rel, ast.parse(p.read_text())) if d in names}
        for d in list(deps):
            parts = d.split(".")
            deps |= {".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in names}
        graph[_name(rel)] = deps - {_name(rel)}
    for m, deps in graph.items():
        graph[m] = {d for d in deps if not d.startswith(m + ".")}
    return graph


def test_no_import_cycle():
    """No cycle, counting the imports inside functions too."""
    graph = _graph()
    state, stack, cycles = {}, [], []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


#: The layers, top to bottom: a module imports only from its own layer or the layers below it.
LAYERS = (
    ("commands", ("neurodeploy.cli", "neurodeploy.commands", "neurodeploy.api")),
    ("stages", ("neurodeploy.train", "neurodeploy.evaluate", "neurodeploy.study", "neurodeploy.importers", "neurodeploy.quantize", "neurodeploy.mapping",
                "neurodeploy.config", "neurodeploy.backends", "neurodeploy.verification", "neurodeploy.validate",
                "neurodeploy.deployment", "neurodeploy.rules", "neurodeploy.plots", "neurodeploy.schema",
                "neurodeploy.calibration")),
    ("formats", ("neurodeploy.network", "neurodeploy.network_checks", "neurodeploy.network_sidecar", "neurodeploy.inputs",
                 "neurodeploy.input_times")),
    ("sim", ("neurodeploy.sim",)),
    ("device", ("neurodeploy.device",)),
    ("basics", ("neurodeploy.errors", "neurodeploy.log", "neurodeploy.fileio", "neurodeploy.basemodel",
                "neurodeploy.detmath", "neurodeploy.lazy", "neurodeploy.compile_cache", "neurodeploy.compiled_programs",
                "neurodeploy.xla_flags", "neurodeploy.report",
                "neurodeploy.verification.metrics", "neurodeploy")),
)


def _layer(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for pre in prefixes:
            if module == pre or (pre != "neurodeploy" and module.startswith(pre + ".")):   # the package itself: exact
                if best is None or len(pre) > best[1]:
                    best = (i, len(pre))
    assert best is not None, f"{module}: in no layer of tests/test_structure.py LAYERS"
    return best[0]


def test_dependencies_point_down():
    """commands → stages → formats → sim → device → basics, never back (imports inside functions counted)."""
    up = []
    for m, deps in _graph().items():
        for d in sorted(deps):
            if _layer(d) < _layer(m):
                up.append(f"{m} ({LAYERS[_layer(m)][0]}) imports {d} ({LAYERS[_layer(d)][0]})")
    assert not up, "\n".join(up)
