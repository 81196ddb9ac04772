"""One version for every first-party distribution, and the check that built ones agree on it.

`scripts/check-dist` builds every distribution and runs `scripts/check_built.py` on the result;
these tests hold the sources to the same rules and prove the checker refuses what it must.
"""

from __future__ import annotations

import importlib.util
import io
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
VERSION = (ROOT / "VERSION").read_text().strip()


def load_checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_built", ROOT / "scripts" / "check_built.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_built = load_checker()
FIRST_PARTY_FOLDERS = {
    "destilation-core": "core",
    "destilation-mock": "plugins/destilation_mock",
    "destilation-routing": "plugins/destilation_routing",
    "destilation-templates": "plugins/destilation_templates",
    "destilation-validators": "plugins/destilation_validators",
    "destilation-sql": "plugins/destilation_sql",
    "destilation-jsonl": "plugins/destilation_jsonl",
    "destilation-tui": "plugins/destilation_tui",
    "destilation-export": "plugins/destilation_export",
    "destilation-openrouter": "destilation_openrouter",
    "destilation-ollama": "destilation_ollama",
    "destilation-script": "destilation_script",
}


def pyproject(folder: str) -> dict:
    return tomllib.loads((ROOT / folder / "pyproject.toml").read_text())


def test_version_file_holds_one_version() -> None:
    assert str(Version(VERSION)) == VERSION


def test_the_checker_knows_every_first_party_distribution() -> None:
    assert set(check_built.FIRST_PARTY) == set(FIRST_PARTY_FOLDERS)
    for name, folder in FIRST_PARTY_FOLDERS.items():
        assert pyproject(folder)["project"]["name"] == name


@pytest.mark.parametrize("folder", [".", *FIRST_PARTY_FOLDERS.values()])
def test_every_first_party_version_comes_from_the_version_file(folder: str) -> None:
    config = pyproject(folder)
    assert "version" not in config["project"]
    assert "version" in config["project"]["dynamic"]
    source = config["tool"]["hatch"]["version"]
    assert (ROOT / folder / source["path"]).resolve() == ROOT / "VERSION"
    assert source["pattern"] == "(?P<version>.+)"


def test_metapackage_pins_every_sibling_to_the_release_version() -> None:
    hook = pyproject(".")["tool"]["hatch"]["metadata"]["hooks"]["custom"]
    specs = [*hook["dependencies"], *(s for extra in hook["optional-dependencies"].values() for s in extra)]
    pinned = {}
    for spec in specs:
        requirement = Requirement(spec.format(version=VERSION))
        if requirement.name.startswith("destilation"):
            assert str(requirement.specifier) == f"=={VERSION}", spec
            pinned[requirement.name] = requirement
    assert set(pinned) == set(FIRST_PARTY_FOLDERS)
    required = {Requirement(spec.format(version=VERSION)).name for spec in hook["dependencies"]}
    assert "destilation-openrouter" not in required
    assert "destilation-ollama" not in required


@pytest.mark.parametrize("folder", [*FIRST_PARTY_FOLDERS.values(), "examples/destilation_wordcount"])
def test_every_plugin_range_on_the_core_admits_the_release_version(folder: str) -> None:
    for spec in pyproject(folder)["project"]["dependencies"]:
        requirement = Requirement(spec)
        if requirement.name == "destilation-core":
            assert VERSION in requirement.specifier, f"{folder}: {spec} does not admit {VERSION}"


REPOSITORY = "https://github.com/destilation/destilation"
ALL_FOLDERS = [".", *FIRST_PARTY_FOLDERS.values(), "examples/destilation_wordcount"]


@pytest.mark.parametrize("folder", ALL_FOLDERS)
def test_every_distribution_reads_right_on_a_package_index(folder: str) -> None:
    project = pyproject(folder)["project"]
    classifiers = set(project["classifiers"])
    for classifier in (
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Typing :: Typed",
    ):
        assert classifier in classifiers, f"{folder}: no {classifier}"
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    assert any(c.startswith("Topic :: ") for c in classifiers)
    assert project["keywords"]
    assert project["authors"] == project["maintainers"] == [{"name": "Destilation contributors"}]
    urls = project["urls"]
    assert set(urls) == {"Documentation", "Source", "Issues"}
    assert urls["Source"] == REPOSITORY
    assert urls["Issues"] == f"{REPOSITORY}/issues"
    assert urls["Documentation"].startswith(REPOSITORY)
    assert (ROOT / folder / project["license-files"][0]).read_text() == (ROOT / "LICENSE").read_text()
    readme = (ROOT / folder / project["readme"]).read_text()
    # An index shows the README alone: a relative link there goes nowhere.
    links = [link for link in re.findall(r"\]\(([^)]+)\)", readme) if not link.startswith("https://")]
    assert links == [], f"{folder}: relative links {links}"
    assert f"{REPOSITORY}#readme" in readme or f"{REPOSITORY}/blob/main/docs/plugins.md" in readme
    assert "pip install" in readme


@pytest.mark.parametrize("folder", ALL_FOLDERS[1:])
def test_every_package_folder_ships_py_typed(folder: str) -> None:
    (package,) = pyproject(folder)["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert (ROOT / folder / package / "py.typed").is_file()


# --- the checker of built distributions, on small archives made here -------------------------


def write_wheel(folder: Path, name: str, version: str, requires: list[str], files: list[str]) -> None:
    stem = f"{name.replace('-', '_')}-{version}"
    metadata = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(folder / f"{stem}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(f"{stem}.dist-info/METADATA", metadata)
        wheel.writestr(f"{stem}.dist-info/licenses/LICENSE", "Apache-2.0")
        for file in files:
            wheel.writestr(file, "")


def write_sdist(folder: Path, name: str, version: str) -> None:
    stem = f"{name.replace('-', '_')}-{version}"
    data = f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n".encode()
    with tarfile.open(folder / f"{stem}.tar.gz", "w:gz") as sdist:
        info = tarfile.TarInfo(f"{stem}/PKG-INFO")
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))


def write_release(folder: Path, *, versions: dict[str, str] | None = None, pins: dict[str, str] | None = None) -> None:
    versions = versions or {}
    pins = pins or {}
    siblings = [f"{name}=={pins.get(name, VERSION)}" for name in check_built.FIRST_PARTY]
    write_wheel(folder, "destilation", versions.get("destilation", VERSION), siblings, [])
    write_sdist(folder, "destilation", versions.get("destilation", VERSION))
    for name, package in check_built.FIRST_PARTY.items():
        requires = [] if name == "destilation-core" else [f"destilation-core>={VERSION}"]
        version = versions.get(name, VERSION)
        write_wheel(folder, name, version, requires, [f"{package}/__init__.py", f"{package}/py.typed"])
        write_sdist(folder, name, version)


def test_checker_passes_a_release_that_agrees(tmp_path: Path) -> None:
    write_release(tmp_path)
    assert check_built.check(tmp_path, None) == []
    assert check_built.main(["check_built.py", str(tmp_path)]) == 0


def test_checker_refuses_a_wheel_of_another_version(tmp_path: Path) -> None:
    write_release(tmp_path, versions={"destilation-sql": "0.0.9"})
    assert check_built.check(tmp_path, None) == [
        f"destilation-sql: wheel version 0.0.9, VERSION says {VERSION}",
        f"destilation-sql: sdist version 0.0.9, VERSION says {VERSION}",
    ]
    assert check_built.main(["check_built.py", str(tmp_path)]) == 1


def test_checker_refuses_a_pin_that_is_not_the_release_version(tmp_path: Path) -> None:
    write_release(tmp_path, pins={"destilation-jsonl": "0.0.9"})
    assert check_built.check(tmp_path, None) == [f"destilation: pins destilation-jsonl==0.0.9, not =={VERSION}"]


def test_checker_refuses_a_missing_distribution_and_a_wheel_without_py_typed(tmp_path: Path) -> None:
    write_release(tmp_path)
    (tmp_path / f"destilation_mock-{VERSION}.tar.gz").unlink()
    (tmp_path / f"destilation_routing-{VERSION}-py3-none-any.whl").unlink()
    write_wheel(tmp_path, "destilation-routing", VERSION, [], ["destilation_routing/__init__.py"])
    assert check_built.check(tmp_path, None) == [
        "destilation-mock: no sdist was built",
        "destilation-routing: the wheel has no destilation_routing/py.typed",
    ]
