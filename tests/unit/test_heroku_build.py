"""What Heroku's Python buildpack looks for is there, and the locks it installs agree with pyproject.toml.

The buildpack (heroku/heroku-buildpack-python) wants exactly one package manager file at the root
(``requirements.txt``, ``Pipfile.lock``, ``poetry.lock`` or ``uv.lock``; it refuses two), reads the Python version
from ``.python-version`` (a major version such as ``3.11``, or an exact one), and on Heroku CI installs
``requirements-test.txt`` beside ``requirements.txt``. ``scripts/lock`` writes both locks."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from support.data import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
PACKAGE_MANAGER_FILES = ("requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock")
REGENERATE = "run scripts/lock (README, Contributing)"


def pins(lock: Path) -> dict[str, tuple[Version, set[str]]]:
    """The lock's pins: name -> (version, the names it is there for, as its ``# via`` lines say)."""
    found: dict[str, tuple[Version, set[str]]] = {}
    current = ""
    for line in lock.read_text().splitlines():
        text = line.strip()
        if not text or text.startswith("-e "):
            continue
        if not text.startswith("#"):
            requirement = Requirement(text)
            (specifier,) = requirement.specifier
            assert specifier.operator == "==", f"{lock.name}: {text} is not pinned"
            current = canonicalize_name(requirement.name)
            found[current] = (Version(specifier.version), set())
            continue
        if current:  # "# via name", or "# via" and then one "#   name" a line
            named = text.removeprefix("#").strip().removeprefix("via").strip()
            if named:
                found[current][1].add(named)
    return found


def top_level(lock: Path) -> set[str]:
    """The pins that the project asks for itself (``via receiver``), not another pin."""
    return {name for name, (_version, via) in pins(lock).items()
            if any(who.startswith("receiver") for who in via)}


def requirements(specs: list[str]) -> dict[str, SpecifierSet]:
    return {canonicalize_name(Requirement(spec).name): Requirement(spec).specifier for spec in specs}


RUNTIME = requirements(PROJECT["dependencies"])
TEST = {**RUNTIME, **requirements(PROJECT["optional-dependencies"]["test"])}


def test_exactly_one_package_manager_file_the_buildpack_supports():
    present = [name for name in PACKAGE_MANAGER_FILES if (ROOT / name).exists()]
    assert present == ["requirements.txt"], f"the buildpack refuses anything but exactly one of them: {present}"


def test_python_version_is_one_the_buildpack_reads_and_pyproject_allows():
    text = (ROOT / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.\d+(\.\d+)?", text), "a major version such as 3.11 (no 'python-' prefix, no quotes)"
    assert Version(text) in SpecifierSet(PROJECT["requires-python"])


def test_the_runtime_lock_installs_the_project_itself():
    """The Procfile's commands are the project's console script: the buildpack must install the project."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    assert "-e ." in lines
    assert (ROOT / "Procfile").read_text().split("\n")[0] == "release: receiver db upgrade"


@pytest.mark.parametrize("lock,wanted", [("requirements.txt", RUNTIME), ("requirements-test.txt", TEST)])
def test_every_dependency_is_pinned_within_its_specifier_and_nothing_else_is_top_level(lock, wanted):
    pinned = pins(ROOT / lock)
    missing = sorted(set(wanted) - set(pinned))
    assert not missing, f"{lock} lacks {missing}: {REGENERATE}"
    outside = [f"{name}=={pinned[name][0]} (pyproject: {spec})" for name, spec in wanted.items()
               if not spec.contains(pinned[name][0], prereleases=True)]
    assert not outside, f"{lock} pins outside pyproject.toml's specifiers: {outside}: {REGENERATE}"
    stray = sorted(top_level(ROOT / lock) - set(wanted))
    assert not stray, f"{lock} pins {stray} for the project, which pyproject.toml no longer asks for: {REGENERATE}"
    assert top_level(ROOT / lock) == set(wanted)


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-test.txt"])
def test_every_pin_is_there_for_something_in_the_lock(lock):
    """A pin left behind when what needed it went away is stray too."""
    pinned = pins(ROOT / lock)
    for name, (_version, via) in pinned.items():
        reasons = {canonicalize_name(who.split(" ")[0]) for who in via if not who.startswith("-c ")}
        assert reasons, f"{lock}: {name} is there for nothing: {REGENERATE}"
        unknown = reasons - set(pinned) - {"receiver"}
        assert not unknown, f"{lock}: {name} is there for {sorted(unknown)}, which it does not pin: {REGENERATE}"


def test_what_is_tested_is_what_is_deployed():
    """The test lock holds every runtime pin at the same version: .ci/run and Heroku CI install them together."""
    runtime, test = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-test.txt")
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: version for name, (version, _) in test.items() if name in runtime}
