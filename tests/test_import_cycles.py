"""No module of the core imports itself back through others — lazy imports inside functions count.

import-linter's contracts (``.venv/bin/lint-imports``) keep packages layered and siblings acyclic; a package's
``__init__`` and its own modules are not siblings there, which is how ``core.jobs`` ⇄ ``runner`` ⇄ ``backends``,
``core.web`` ⇄ its views and ``core.api`` ⇄ its views went unnoticed. This test looks at every module.
"""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c.startswith(package)), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_of_core_or_mayak_is_in_an_import_circle():
    graph = grimp.build_graph("core", "mayak", "plugins")
    for package in ("core", "mayak", "plugins"):
        circles = _cycles(graph, package)
        assert not circles, f"import circles in {package}: {circles}"
