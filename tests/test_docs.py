"""The documents name only what exists: settings, paths, links and anchors, scopes; the settings
page is the generator's output; measured figures live only in benchmarks/README.md.

The commands in the documents' code blocks are run by tests/test_readme.py.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from pydantic import Field
from pydantic_settings import BaseSettings

from bot.config import Settings
from bot.core.grammar import VERBS
from bot.slack.scopes import required_scopes

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
ALL_DOCS = [*DOCS, REPO / "benchmarks" / "README.md"]
# Environment variables the documents may name that are not settings of the bot.
NOT_SETTINGS = {
    "DIGEST_TEST_POSTGRES_URL": "the test suite's PostgreSQL server",
    "PYTEST_WORKERS": "scripts/test's pytest-xdist workers",
}
# Inline code with a slash that is not a path in this repository.
NOT_PATHS = {"heroku/python": "Heroku's Python buildpack"}
SETTING = re.compile(r"\b(?:DIGEST|SLACK)_[A-Z0-9_]*[A-Z0-9]\b")
CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCE = re.compile(r"^ *```.*?^ *```", re.MULTILINE | re.DOTALL)
PATH_SUFFIXES = (".py", ".md", ".yml", ".json", ".txt", ".toml", ".in")
# A measured figure: a duration, a size, a rate, a ratio or a percentage.
FIGURE = re.compile(
    r"\b\d[\d,.]*(?:\s?(?:ms|MB|GB|articles/s|req/s|×|%)|\s(?:s|a second))(?![\w/])"
)


def load_generator() -> ModuleType:
    """scripts/gen_config_docs.py as a module (scripts/ is not a package)."""
    path = REPO / "scripts" / "gen_config_docs.py"
    spec = importlib.util.spec_from_file_location("gen_config_docs", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def prose(text: str) -> str:
    """The text without its fenced code blocks."""
    return FENCE.sub("", text)


def anchors(text: str) -> set[str]:
    """GitHub's anchors for the headings of a Markdown text."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", prose(text), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug)
    return found


def anchors_of(path: Path) -> set[str]:
    """The anchors of a Markdown file, empty when it does not exist."""
    return anchors(path.read_text()) if path.exists() else set()


def named_paths(text: str) -> set[str]:
    """Repository paths a document names in inline code: with a slash or a file suffix."""
    paths = set()
    for code in CODE.findall(prose(text)):
        token = code.split("::")[0]
        if any(c in token for c in " :…|<>{}=$") or token.startswith(("/", "-", "http")):
            continue
        if token in PATH_SUFFIXES or token in NOT_PATHS:
            continue
        if "/" in token or token.endswith(PATH_SUFFIXES):
            paths.add(token)
    return paths


def exists(path: str) -> bool:
    """Whether a path (or a glob such as `bot/*_cli.py`) names something in the repository."""
    if "*" in path:
        return any(REPO.glob(path))
    return (REPO / path).exists()


def test_configuration_doc_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_config_docs.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_the_generator_documents_every_setting_with_its_bounds() -> None:
    page = load_generator().render(Settings)
    for field in Settings.model_fields.values():
        assert f"| `{field.alias}` |" in page
    assert "| `PORT` | `3000` | integer, ≥ 1, ≤ 65535 |" in page
    assert "`Name \\| alias \\| alias`" in page  # a pipe stays inside its cell


def test_the_generator_refuses_a_setting_without_a_description() -> None:
    class Undocumented(BaseSettings):
        documented: int = Field(1, alias="DOCUMENTED", description="Has one.")
        bare: int = Field(2, alias="BARE")

    with pytest.raises(ValueError, match="bare"):
        load_generator().render(Undocumented)


def test_the_check_fails_when_the_page_is_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generator = load_generator()
    monkeypatch.setattr(generator, "REPO", tmp_path)
    monkeypatch.setattr(generator, "OUTPUT", tmp_path / "configuration.md")
    generator.OUTPUT.write_text("# Configuration\n\nold\n")
    monkeypatch.setattr(sys, "argv", ["gen_config_docs.py", "--check"])
    assert generator.main() == 1
    monkeypatch.setattr(sys, "argv", ["gen_config_docs.py"])
    assert generator.main() == 0
    monkeypatch.setattr(sys, "argv", ["gen_config_docs.py", "--check"])
    assert generator.main() == 0


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_setting_a_document_names_exists(doc: Path) -> None:
    settings = {str(f.alias) for f in Settings.model_fields.values()}
    named = set(SETTING.findall(doc.read_text()))
    unknown = named - settings - set(NOT_SETTINGS)
    assert not unknown, unknown


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_a_document_names_exists(doc: Path) -> None:
    missing = sorted(p for p in named_paths(doc.read_text()) if not exists(p))
    assert not missing, missing


@pytest.mark.parametrize("doc", ALL_DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_link_and_anchor_resolves(doc: Path) -> None:
    broken = []
    for target in LINK.findall(prose(doc.read_text())):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        linked = (doc.parent / file).resolve() if file else doc
        unknown_anchor = linked.suffix == ".md" and anchor and anchor not in anchors_of(linked)
        if not linked.exists() or unknown_anchor:
            broken.append(target)
    assert not broken, broken


def test_path_and_figure_detection_catch_what_they_should() -> None:
    text = "`bot/nowhere.py` `bot/config.py::Settings` `python -m bot x` `/slack/events`\n"
    assert named_paths(text) == {"bot/nowhere.py", "bot/config.py"}
    assert not exists("bot/nowhere.py") and exists("bot/config.py") and exists("bot/cli/*.py")
    assert FIGURE.search("took 57 s on a fresh clone") and FIGURE.search("500 a second")
    assert not FIGURE.search("answers 429s") and not named_paths("`.md` or `.txt`")
    assert FIGURE.search("p99 20.81 ms") and FIGURE.search("1.46× the floor")
    assert not FIGURE.search("`DIGEST_POLL_MINUTES` (default 5)")
    assert anchors("# A title\n## In Slack: `/digest`\n") == {"a-title", "in-slack-digest"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_measured_figure_outside_the_benchmarks_readme(doc: Path) -> None:
    figures = [m.group(0) for m in FIGURE.finditer(prose(doc.read_text()))]
    assert not figures, f"put measurements in benchmarks/README.md: {figures}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_digest_command_a_document_names_exists(doc: Path) -> None:
    text = doc.read_text()
    named = set(re.findall(r"/digest ([a-z]+)", text))
    # A section headed with `/digest` lists the verbs bare, one table row each.
    for section in re.findall(r"^## [^\n]*`/digest`.*?(?=^## |\Z)", text, re.MULTILINE | re.DOTALL):
        named |= set(re.findall(r"^\| `([a-z]+)\b", section, re.MULTILINE))
    assert named <= set(VERBS), named - set(VERBS)


def test_every_stored_result_is_in_the_benchmarks_readme() -> None:
    page = (REPO / "benchmarks" / "README.md").read_text()
    stored = sorted((REPO / "benchmarks" / "results").glob("*.json"))
    assert stored
    missing = [p.name for p in stored if f"`benchmarks/results/{p.name}`" not in page]
    assert not missing, missing


def test_the_scope_table_explains_exactly_the_scopes_the_manifest_asks_for() -> None:
    page = (REPO / "docs" / "slack-app.md").read_text()
    section = page.split("## Scopes, and why each", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z:.]+)` \| (.+) \|$", section, re.MULTILINE)
    assert {scope for scope, _ in rows} == required_scopes()
    assert all(why.strip() for _, why in rows)
