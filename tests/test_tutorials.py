"""The tutorials (docs/tutorials/*.ipynb) as files: committed without outputs, each stating its run time, asserting
what it teaches, using vaelab's public API, writing only into a temporary directory, linked from the README and
executed by CI. (Executing them is CI's separate step, `python -m pytest --nbmake docs/tutorials`: minutes, not
part of this suite.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TUTORIALS = REPO / "docs" / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("*.ipynb"))


def cells(path: Path, kind: str) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == kind]


def test_there_are_tutorials():
    assert len(NOTEBOOKS) >= 5, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_is_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a cell has outputs (strip them before committing)"
            assert cell["execution_count"] is None, f"{path.name}: a cell has an execution count"
    assert path.stat().st_size < 100_000, f"{path.name} is {path.stat().st_size} bytes: nothing heavy in git"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_says_what_it_teaches_and_how_long_it_runs(path: Path):
    intro = cells(path, "markdown")[0]
    assert intro.lstrip().startswith("# "), f"{path.name}: the first cell is the title"
    assert re.search(r"[Rr]un time", intro) and re.search(r"\d+\s*(s|seconds|min|minutes)\b", intro), \
        f"{path.name}: the introduction states the measured run time"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_asserts_its_numbers(path: Path):
    code = "\n".join(cells(path, "code"))
    asserts = re.findall(r"^\s*assert\b", code, flags=re.M)
    assert len(asserts) >= 3, f"{path.name}: {len(asserts)} asserts; a tutorial asserts the numbers it talks about"
    assert "VAELAB_TUTORIAL_SEED" in code, f"{path.name}: the seed comes from $VAELAB_TUTORIAL_SEED (checked over seeds)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_notebook_uses_the_public_api_and_a_temporary_directory(path: Path):
    code = "\n".join(cells(path, "code"))
    private = re.findall(r"vaelab(?:\.\w+)*\._\w+|from vaelab[\w.]* import [^\n]*\b_\w+", code)
    assert not private, f"{path.name} reaches into private code: {private}"
    assert "tempfile" in code, f"{path.name}: run directories go into a temporary directory"
    assert not re.search(r"""out\s*=\s*["'](?!/)""", code), f"{path.name}: a run directory relative to the clone"


def test_the_readme_links_every_tutorial_and_ci_runs_them():
    readme = (REPO / "README.md").read_text()
    for path in NOTEBOOKS:
        assert f"docs/tutorials/{path.name}" in readme, f"README does not link {path.name}"
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^python -m pytest --nbmake docs/tutorials", ci, flags=re.M), "CI does not run the tutorials"
