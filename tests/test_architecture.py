"""The import rules of docs/architecture.md, checked on the source: a new upward import
or an import circle fails here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("survey_scripts", "speech", "dialer", "workers")
# known exceptions, removed by the house issue (18); never add to this list
KNOWN = {("dialer.lines.simulated", "dialer.robot.robot"),
         ("dialer.lines.simulated.line", "dialer.robot.turn"),
         ("dialer.lines.simulated.population", "dialer.store")}
ASSEMBLERS = ("dialer.dispatch.runner", "dialer.commands", "dialer.console.workers")


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def _imports(module_level: bool) -> dict[str, set[str]]:
    """Module -> the project's modules it imports (`from a.b import C` is a.b; `from a
    import b` is a.b when b is a module); `module_level`: imports at the top only."""
    mods = _modules()

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body if module_level else ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found = [resolve(f"{node.module}.{a.name}") for a in node.names]
            elif isinstance(node, ast.Import):
                found = [resolve(a.name) for a in node.names]
            else:
                continue
            edges[name] |= {t for t in found if t and t != name}
    return edges


def _broken() -> list[tuple[str, str]]:
    bad = []
    for a, targets in _imports(module_level=False).items():
        for b in targets:
            top_a, top_b = a.split(".")[0], b.split(".")[0]
            if (top_a == "survey_scripts" and top_b != "survey_scripts") or \
                    (top_a == "speech" and top_b in ("dialer", "workers")) or \
                    (a.startswith("dialer.robot") and b.startswith(
                        ("dialer.lines.simulated", "dialer.lines.recorded",
                         "dialer.lines.fake"))) or \
                    (a.startswith("dialer.lines") and b.startswith(
                        ("dialer.robot", "dialer.store", "dialer.dispatch", "workers"))) or \
                    (top_a == "dialer" and top_b == "workers" and not a.startswith(ASSEMBLERS)):
                bad.append((a, b))
    return sorted(set(bad) - KNOWN)


def test_no_module_imports_against_the_layers() -> None:
    assert _broken() == []


def _circle() -> list[str] | None:
    edges = _imports(module_level=True)
    seen: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        seen[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if seen.get(nxt) == 1:
                return [*path, node, nxt]
            if nxt not in seen and (loop := visit(nxt, [*path, node])):
                return loop
        seen[node] = 2
        return None

    for start in sorted(_modules()):
        if start not in seen and (loop := visit(start, [])):
            return loop
    return None


def test_no_import_circle() -> None:
    assert _circle() is None


def test_the_rules_can_fail(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A speech module importing the dialer, and a circle, are caught (not vacuous)."""
    for package, text in (("speech", "from dialer.store import Store\n"), ("dialer", "")):
        (tmp_path / package).mkdir()
        (tmp_path / package / ("bad.py" if text else "store.py")).write_text(text)
    monkeypatch.setattr("tests.test_architecture.ROOT", tmp_path)
    assert _broken() == [("speech.bad", "dialer.store")]
    (tmp_path / "dialer" / "store.py").write_text("import speech.bad\n")
    assert _circle() in (["speech.bad", "dialer.store", "speech.bad"],
                         ["dialer.store", "speech.bad", "dialer.store"])
