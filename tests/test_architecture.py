"""The shape of bontrack's code, read from its sources with ``ast``:

- no import loops between modules (an import inside a function counts: it runs too; only an
  ``if TYPE_CHECKING:`` block does not, since it never runs);
- no private name (``_name``) imported from another module: what a module offers others is public
  and documented;
- every page is rendered under ``bontrack/web``: outside it, only the document renderers named in
  ``DOCUMENT_RENDERERS`` use Django's template rendering.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOURCES = Path(__file__).resolve().parents[1] / "bontrack"

# Outside bontrack/web, the modules that render a template, each with why it is not a page.
DOCUMENT_RENDERERS = {
    "bontrack.charting.services.consent_forms": "the signed consent form's PDF "
    "(charting/consent_pdf.html): a document the service renders, stores and hashes, never "
    "served as a page",
}

# Names that render a template, by the module they are imported from.
RENDERING = {
    "django.shortcuts": {"render", "render_to_response"},
    "django.template.loader": {"render_to_string", "get_template", "select_template"},
    "django.template.response": {"TemplateResponse", "SimpleTemplateResponse"},
    "django.views.generic": {"TemplateView"},
    "django.views.generic.base": {"TemplateView"},
}


@dataclass(frozen=True)
class Import:
    target: str  # the module imported from (``from target import names``) or imported
    names: tuple[str, ...]  # the names a ``from`` import takes; empty for ``import target``
    line: int


def module_name(path: Path, root: Path = SOURCES) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def bontrack_modules(root: Path = SOURCES) -> dict[str, Path]:
    """Every module of bontrack by dotted name (migrations are Django's, left out)."""
    return {
        module_name(p, root): p for p in sorted(root.rglob("*.py")) if "migrations" not in p.parts
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every import of a module, at any depth, except under ``if TYPE_CHECKING:``."""

    def __init__(self, package: str) -> None:
        self.package = package
        self.found: list[Import] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [Import(a.name, (), node.lineno) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        target = node.module or ""
        if node.level:
            parts = self.package.split(".")
            base = parts[: len(parts) - node.level + 1]
            target = ".".join(base + ([target] if target else []))
        self.found.append(Import(target, tuple(a.name for a in node.names), node.lineno))


def imports_of(path: Path, module: str) -> list[Import]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    visitor = _Imports(package)
    visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return visitor.found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which bontrack modules each module imports (``from a import b`` imports ``a`` and, when it
    is a module, ``a.b``)."""
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for found in imports_of(path, module):
            for target in (found.target, *(f"{found.target}.{n}" for n in found.names)):
                if target in modules and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One loop through each group of modules that import each other, as the path it takes
    (first module repeated at the end), found by Tarjan's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_loop_within(graph, group) for group in groups]


def _loop_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest path from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for v in frontier:
            for w in sorted(graph[v] & group):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    following.append(w)
        frontier = following
    return sorted(group)


def private_imports(modules: dict[str, Path]) -> Iterator[str]:
    """``from bontrack.x import _name`` in a module other than bontrack.x."""
    for module, path in modules.items():
        for found in imports_of(path, module):
            if found.target.split(".")[0] != "bontrack" or found.target == module:
                continue
            for name in found.names:
                if name.startswith("_") and not name.startswith("__"):
                    yield f"{module} (line {found.line}): {found.target}.{name}"


def template_renderers(modules: dict[str, Path]) -> dict[str, list[str]]:
    """Modules that render a template (a page, or a document), with what they use to."""
    found: dict[str, list[str]] = {}
    for module, path in modules.items():
        uses = []
        for imported in imports_of(path, module):
            uses += [n for n in imported.names if n in RENDERING.get(imported.target, ())]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if isinstance(statement, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "template_name"
                        for t in statement.targets
                    ):
                        uses.append(f"{node.name}.template_name")
        if uses:
            found[module] = sorted(set(uses))
    return found


# --- The assertions ------------------------------------------------------------------------


def test_no_module_imports_itself_back_through_others():
    loops = cycles(import_graph(bontrack_modules()))
    assert not loops, "import loops:\n" + "\n".join(" -> ".join(loop) for loop in loops)


def test_no_private_name_is_imported_from_another_module():
    found = list(private_imports(bontrack_modules()))
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_pages_are_rendered_under_web_only():
    outside = {
        module: uses
        for module, uses in template_renderers(bontrack_modules()).items()
        if not module.startswith("bontrack.web.") and module not in DOCUMENT_RENDERERS
    }
    assert not outside, f"modules outside bontrack/web that render templates: {outside}"


def test_every_named_document_renderer_still_renders():
    renderers = template_renderers(bontrack_modules())
    stale = [m for m in DOCUMENT_RENDERERS if m not in renderers]
    assert not stale, f"named as document renderers but rendering nothing: {stale}"


# --- The checks see what they look for -----------------------------------------------------


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    root = tmp_path / "bontrack"
    (root / "web").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "web" / "__init__.py").write_text("")
    return root


def test_a_loop_through_an_import_inside_a_function_is_named(probe: Path):
    (probe / "a.py").write_text("from bontrack import b\n")
    (probe / "b.py").write_text("def f():\n    from bontrack.c import x\n")
    (probe / "c.py").write_text("import bontrack.a\n")
    assert cycles(import_graph(bontrack_modules(probe))) == [
        ["bontrack.a", "bontrack.b", "bontrack.c", "bontrack.a"]
    ]


def test_an_import_for_type_checking_only_makes_no_loop(probe: Path):
    (probe / "a.py").write_text("from bontrack.b import x\n")
    (probe / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bontrack.a import y\n"
    )
    assert cycles(import_graph(bontrack_modules(probe))) == []


def test_a_relative_import_of_a_private_name_is_found(probe: Path):
    (probe / "web" / "views.py").write_text("from .access import _helper\n")
    found = list(private_imports(bontrack_modules(probe)))
    assert len(found) == 1
    assert found[0].endswith("bontrack.web.access._helper")


def test_a_page_rendered_outside_web_is_found(probe: Path):
    (probe / "pages.py").write_text("from django.shortcuts import render\n")
    (probe / "web" / "page.py").write_text(
        "class SignIn:\n    template_name = 'account/login.html'\n"
    )
    assert template_renderers(bontrack_modules(probe)) == {
        "bontrack.pages": ["render"],
        "bontrack.web.page": ["SignIn.template_name"],
    }
