"""The lock files pin exactly what pyproject.toml allows (scripts/lock regenerates them)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent


def pins(name: str) -> tuple[dict[str, str], list[str]]:
    """Pinned versions by canonical name, and the lines that are not pins (the app itself)."""
    pinned: dict[str, str] = {}
    other: list[str] = []
    for raw in (REPO / name).read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith((".", "-e ")):
            other.append(line)
            continue
        requirement = Requirement(line)
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name}: {line!r} is not pinned"
        pinned[canonicalize_name(requirement.name)] = specs[0].version
    return pinned, other


def declared(extra: str | None = None) -> list[Requirement]:
    """pyproject.toml's dependencies (or one extra's)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    texts = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(text) for text in texts]


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.txt", [None]), ("requirements-dev.txt", [None, "dev"])]
)
def test_lock_pins_every_declared_dependency_within_its_range(
    lock: str, extras: list[str | None]
) -> None:
    pinned, _ = pins(lock)
    for extra in extras:
        for requirement in declared(extra):
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{lock} lacks {requirement.name}: run bash scripts/lock"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (
                f"{lock} pins {name}=={pinned[name]}, outside pyproject.toml's "
                f"{requirement.specifier}: run bash scripts/lock"
            )


def test_deploy_lock_installs_the_app_and_dev_lock_matches_it() -> None:
    runtime, runtime_other = pins("requirements.txt")
    dev, dev_other = pins("requirements-dev.txt")
    assert runtime_other == ["."], "requirements.txt must install the app itself (`.`)"
    assert dev_other == ["-e ."], "requirements-dev.txt must install the app editable"
    differ = {n: (v, dev.get(n)) for n, v in runtime.items() if dev.get(n) != v}
    assert not differ, f"the dev lock differs from the deploy lock: {differ}"


def test_python_version_matches_pyproject() -> None:
    version = (REPO / ".python-version").read_text().strip()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert version == "3.11"
    assert Requirement(f"python{project['requires-python']}").specifier.contains(version + ".0")
