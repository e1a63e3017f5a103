"""The import rules of docs/architecture.md, checked on the source: a new upward import,
a line back-end reaching above the lines, or an import circle fails here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("survey_scripts", "speech", "dialer", "workers")
LEAVES = ("dialer.wire", "dialer.calllog", "dialer.executor", "dialer.meter")
TOOLS = ("speech", "survey_scripts", *LEAVES)  # what every layer of the dialer may use
# Who may import whom: a module under a key imports only the modules under its prefixes
# (and its own package). The most specific key wins. Nothing may import the entry points.
ALLOWED: dict[str, tuple[str, ...]] = {
    "survey_scripts": (),
    "speech": ("survey_scripts",),
    "dialer.wire": (), "dialer.calllog": (), "dialer.executor": (), "dialer.meter": (),
    "dialer.policy": ("dialer.wire", "survey_scripts"),
    "dialer.store": ("dialer.policy", *TOOLS),
    "dialer.lines": ("dialer.policy", *TOOLS),
    "dialer.robot": ("dialer.lines", "dialer.policy", *TOOLS),  # the protocol only: below
    "dialer.campaign": ("dialer.store", "dialer.policy", *TOOLS),
    "dialer.recordings": ("dialer.robot", "dialer.lines.recorded", "dialer.lines",
                          "dialer.store", "dialer.policy", *TOOLS),
    "dialer.dispatch": ("dialer.campaign", "dialer.store", "dialer.lines.backend",
                        "dialer.lines.registry", "dialer.recordings.files", "dialer.policy",
                        *TOOLS),
    "dialer.dispatch.runner": ("dialer.dispatch", "dialer.campaign", "dialer.store",
                               "dialer.recordings.files", "dialer.lines.registry",
                               "dialer.policy", "workers", *TOOLS),  # an assembler
    "dialer.simulation": ("dialer.dispatch.runner", "dialer.dispatch.dispatcher",
                          "dialer.campaign", "dialer.store", "dialer.robot", "dialer.lines",
                          "dialer.recordings.scoring", "dialer.policy", *TOOLS),
    "dialer.console": ("dialer.campaign", "dialer.store", "dialer.dispatch.lock",
                       "dialer.recordings", "dialer.policy", *TOOLS),
    "dialer.console.workers": ("dialer.console", "dialer.store", "workers", *TOOLS),
    "workers": ("dialer.robot", "dialer.lines.backend", "dialer.lines.registry",
                "dialer.lines.pacing", "dialer.lines", "dialer.policy", *TOOLS),
    "dialer.commands": ("dialer", "workers", "speech", "survey_scripts"),  # the CLI
    "dialer.cli": ("dialer.commands", "survey_scripts"),
    "dialer.pytest_plugin": ("dialer.recordings", "dialer.simulation", *TOOLS),
    "dialer": (),  # the package docstring only
}
ROBOT_SEES = ("dialer.lines",)  # of the lines, the robot sees the protocol module alone
BACKENDS = ("dialer.lines.simulated", "dialer.lines.recorded", "dialer.lines.fake")


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


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _rule(module: str) -> tuple[str, tuple[str, ...]] | None:
    keys = [k for k in ALLOWED if _under(module, k)]
    if not keys:
        return None
    key = max(keys, key=len)
    return key, ALLOWED[key]


def _broken() -> list[tuple[str, str]]:
    bad = []
    for a, targets in _imports(module_level=False).items():
        rule = _rule(a)
        if rule is None:
            continue
        own, allowed = rule
        for b in targets:
            ok = (_under(b, own) and own != "dialer") or any(_under(b, p) for p in allowed)
            if _under(a, "dialer.robot") and _under(b, "dialer.lines"):
                ok = b in ROBOT_SEES  # never a back-end, nor the registry
            if _under(a, "dialer.lines") and not _under(a, "dialer.lines.registry") and \
                    any(_under(b, x) for x in BACKENDS) and not _under(b, _backend_of(a)):
                ok = False  # one back-end never imports another
            if not ok:
                bad.append((a, b))
    return sorted(set(bad))


def _backend_of(module: str) -> str:
    return next((x for x in BACKENDS if _under(module, x)), "-")


def test_no_module_imports_against_the_layers() -> None:
    assert _broken() == []


def test_every_module_has_a_rule_and_every_package_says_what_it_owns() -> None:
    mods = _modules()
    assert [m for m in mods if _rule(m) is None] == []
    for name, path in mods.items():
        if path.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert doc and len(doc) > 40, f"{name} says nothing of what it owns"


def test_every_module_is_under_400_lines() -> None:
    long = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in _modules().items()}
    assert {n: k for n, k in long.items() if k >= 400} == {}


def _circle(edges: dict[str, set[str]], nodes: list[str]) -> list[str] | None:
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

    for start in sorted(nodes):
        if start not in seen and (loop := visit(start, [])):
            return loop
    return None


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "dialer" else parts[0]


def test_no_import_circle() -> None:
    """None among modules (imports at the top), and none among packages (any import;
    the CLI, which may import anything, apart)."""
    assert _circle(_imports(module_level=True), list(_modules())) is None
    packages: dict[str, set[str]] = defaultdict(set)
    for a, targets in _imports(module_level=False).items():
        if not _under(a, "dialer.commands"):
            packages[_package(a)] |= {_package(b) for b in targets} - {_package(a)}
    assert _circle(packages, list(packages)) is None


def test_the_rules_can_fail(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A speech module importing the dialer, a back-end importing the robot, the robot
    importing a back-end, and a circle, are each caught (not vacuous)."""
    files = {"speech/bad.py": "from dialer.store import Store\n",
             "dialer/store.py": "", "dialer/robot/call.py": "import dialer.lines.fake\n",
             "dialer/lines/__init__.py": "", "dialer/lines/fake.py": "",
             "dialer/lines/simulated/line.py": "from dialer.robot.call import x\n"}
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr("tests.test_architecture.ROOT", tmp_path)
    assert _broken() == [("dialer.lines.simulated.line", "dialer.robot.call"),
                         ("dialer.robot.call", "dialer.lines.fake"),
                         ("speech.bad", "dialer.store")]
    (tmp_path / "dialer" / "store.py").write_text("import speech.bad\n")
    loop = _circle(_imports(module_level=True), list(_modules()))
    assert loop in (["speech.bad", "dialer.store", "speech.bad"],
                    ["dialer.store", "speech.bad", "dialer.store"])
