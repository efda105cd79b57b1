"""README examples cannot drift: every fenced shell, YAML or JSON block of README.md carries a
``<!-- readme-test: KIND -->`` marker on the line before it, and this module checks each one:

- ``run-curl``, ``run-cli``, ``run-sweep``: run verbatim by bash (``set -euo pipefail``, curl
  failing on an HTTP error) against a live server, the only change being its port for
  ``127.0.0.1:8000``; then their outputs and files are checked;
- ``validate``: a study file, checked by ``xbar study validate`` (the API's own validation);
- ``syntax``: commands that start servers or clusters (not run here): every ``xbar`` line
  parses with the CLI's options, every ``make`` target exists (``make -n``), every other
  program is installed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from typer.testing import CliRunner

from app.cli.main import app
from tests.app.live import serve, sqlite_url

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MARK = re.compile(r"^<!-- readme-test: ([\w-]+) -->$")
KINDS = {"run-curl", "run-cli", "run-sweep", "validate", "syntax"}
CHECKED_LANGS = {"bash", "sh", "shell", "console", "yaml", "yml", "json", "http"}
DOCUMENTED_URL = "http://127.0.0.1:8000"
BIN = Path(sys.executable).parent
runner = CliRunner()


@dataclass(frozen=True)
class Block:
    line: int
    """1-based line of the opening fence."""
    lang: str
    text: str
    kind: str | None


def readme_blocks() -> list[Block]:
    """Every fenced block of README.md with its language and its marker (or None)."""
    lines = README.read_text().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip().split(" ")[0]
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            prev = next((ln for ln in reversed(lines[:start]) if ln.strip()), "")
            m = MARK.match(prev.strip())
            blocks.append(Block(start + 1, lang, "\n".join(body) + "\n", m and m.group(1)))
        i += 1
    return blocks


def _of(kind: str) -> list[Block]:
    found = [b for b in readme_blocks() if b.kind == kind]
    assert found, f"README has no {kind} block"
    return found


def _bash(script: str, url: str, cwd: Path, timeout_s: float = 240) -> str:
    """Run ``script`` (a README block, its URL pointed at ``url``) in bash; its stdout."""
    prelude = ("set -euo pipefail\n"
               "curl() { command curl --fail-with-body --max-time 120 \"$@\"; }\n")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "XBAR_URL": url,
           "COLUMNS": "200"}
    r = subprocess.run(["bash", "-c", prelude + script.replace(DOCUMENTED_URL, url)], cwd=cwd,
                       env=env, capture_output=True, text=True, timeout=timeout_s)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


def test_every_example_is_marked() -> None:
    """No shell, YAML or JSON example is left unchecked, and every marker is a known kind."""
    unmarked = [b.line for b in readme_blocks() if b.lang in CHECKED_LANGS and b.kind is None]
    assert unmarked == [], f"README.md blocks at lines {unmarked} carry no readme-test marker"
    unknown = {b.kind for b in readme_blocks()} - KINDS - {None}
    assert unknown == set()


def test_curl_example(tmp_path, engine) -> None:
    """The REST walk-through: create, read, stream events to the end, the front with its
    ETag, a 304 for the ETag sent back, DELETE 204, then 404."""
    (block,) = _of("run-curl")
    with serve(sqlite_url(tmp_path), engine) as url:
        out = _bash(block.text, url, tmp_path)
        assert httpx.get(f"{url}/api/v1/studies/1").status_code == 404
    assert "event: study.state" in out and "event: trial.completed" in out
    assert re.search(r'(?im)^etag: W/"study-1-pareto-\d+"\r?$', out)
    assert "HTTP/1.1 304 Not Modified" in out  # the JSON body before it ends without a newline
    assert out.rstrip().endswith("204")


@pytest.mark.slow  # nine `xbar` processes, each importing the project (torch included)
def test_cli_and_sweep_examples(tmp_path, engine) -> None:
    """The CLI walk-through and the CI-gating command run as written: the study completes,
    its JSON and CSV are written, it is deleted, and the sweep passes its gates."""
    (cli,) = _of("run-cli")
    (sweep,) = _of("run-sweep")
    with serve(sqlite_url(tmp_path), engine) as url:
        out = _bash(cli.text, url, tmp_path)
        assert httpx.get(f"{url}/api/v1/studies/1").status_code == 404
        shown = json.loads((tmp_path / "study1.json").read_text())
        assert shown["study"]["state"] == "completed" and shown["study"]["n_completed"] == 20
        csv_lines = (tmp_path / "trials.csv").read_text().splitlines()
        assert len(csv_lines) == 21 and csv_lines[0].startswith("number,state,fidelity")
        assert "Pareto front:" in out and "deleted study 1" in out
        _bash(sweep.text, url, tmp_path)
    xml = ET.parse(tmp_path / "sweep.xml").getroot()
    assert (xml.get("tests"), xml.get("failures")) == ("3", "0")
    assert json.loads((tmp_path / "sweep.json").read_text())["passed"] is True


def test_study_file_example_is_valid(tmp_path) -> None:
    """The README's study file passes the API's validation (locally, same code)."""
    for i, block in enumerate(_of("validate")):
        path = tmp_path / f"example{i}.{'json' if block.lang == 'json' else 'yaml'}"
        path.write_text(block.text)
        r = runner.invoke(app, ["study", "validate", str(path)], env={"COLUMNS": "200"})
        assert r.exit_code == 0, (block.line, r.output)


def _commands(text: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments and leading
    ``VAR=value`` assignments dropped."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
            words.pop(0)
        if words:
            out.append(words)
    return out


@pytest.mark.parametrize("block", [b for b in readme_blocks() if b.kind == "syntax"],
                         ids=lambda b: f"line{b.line}")
def test_syntax_examples(block: Block) -> None:
    """Commands not run here still name real commands, options and make targets."""
    for words in _commands(block.text):
        prog, args = words[0], words[1:]
        if prog == "xbar":
            r = runner.invoke(app, [*args, "--help"])
            assert r.exit_code == 0, (block.line, words, r.output)
        elif prog == "make":
            r = subprocess.run(["make", "-n", *args], cwd=ROOT, capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, (block.line, words, r.stderr)
        else:
            assert shutil.which(prog) or (BIN / prog).exists(), (block.line, prog)


def test_make_comment_matches_the_makefile() -> None:
    """The first block's claim about the install is what the Makefile does."""
    first = _of("syntax")[0].text
    pin = re.search(r"torch==[\d.]+", first)
    assert pin and f"pip install -q {pin.group(0)}" in (ROOT / "Makefile").read_text()
    assert "CPU" not in first or "cpu" in (ROOT / "Makefile").read_text().lower()
