"""Checks the distributions `scripts/check-dist` built agree with each other and with VERSION.

Every first-party wheel and sdist carries the version in VERSION; the metapackage pins each sibling
to exactly that version; each plugin's range on the core admits it; every wheel ships its
package's `py.typed` and the license. Run: `python scripts/check_built.py DIST_DIR [EXAMPLE_DIR]`.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
METAPACKAGE = "destilation"
# distribution name -> the import package its wheel ships
FIRST_PARTY = {
    "destilation-core": "destilation",
    "destilation-mock": "destilation_mock",
    "destilation-routing": "destilation_routing",
    "destilation-templates": "destilation_templates",
    "destilation-validators": "destilation_validators",
    "destilation-sql": "destilation_sql",
    "destilation-jsonl": "destilation_jsonl",
    "destilation-tui": "destilation_tui",
    "destilation-export": "destilation_export",
    "destilation-openrouter": "destilation_openrouter",
    "destilation-ollama": "destilation_ollama",
    "destilation-script": "destilation_script",
}
EXAMPLES = {"destilation-wordcount": "destilation_wordcount"}


def wheel_metadata(path: Path) -> tuple[Message, list[str]]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        return HeaderParser().parsestr(wheel.read(metadata).decode()), names


def sdist_metadata(path: Path) -> Message:
    with tarfile.open(path) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        extracted = sdist.extractfile(member)
        assert extracted is not None
        return HeaderParser().parsestr(extracted.read().decode())


def check(dist_dir: Path, example_dir: Path | None) -> list[str]:
    version = (ROOT / "VERSION").read_text().strip()
    problems: list[str] = []
    wheels: dict[str, tuple[Message, list[str]]] = {}
    for path in sorted(dist_dir.glob("*.whl")) + sorted(example_dir.glob("*.whl") if example_dir else []):
        metadata, names = wheel_metadata(path)
        wheels[canonicalize_name(metadata["Name"])] = (metadata, names)
    sdists = {}
    for path in sorted(dist_dir.glob("*.tar.gz")) + sorted(example_dir.glob("*.tar.gz") if example_dir else []):
        metadata = sdist_metadata(path)
        sdists[canonicalize_name(metadata["Name"])] = metadata

    expected = {METAPACKAGE, *FIRST_PARTY} | (set(EXAMPLES) if example_dir else set())
    for kind, found in (("wheel", wheels), ("sdist", sdists)):
        for name in sorted(expected - set(found)):
            problems.append(f"{name}: no {kind} was built")
        for name in sorted(set(found) - expected):
            problems.append(f"{name}: a {kind} nobody expects")

    for name in sorted({METAPACKAGE, *FIRST_PARTY} & set(wheels)):
        for kind, metadata in (("wheel", wheels[name][0]), ("sdist", sdists.get(name))):
            if metadata is not None and metadata["Version"] != version:
                problems.append(f"{name}: {kind} version {metadata['Version']}, VERSION says {version}")

    if METAPACKAGE in wheels:
        pins: dict[str, list[Requirement]] = {}
        for line in wheels[METAPACKAGE][0].get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            pins.setdefault(canonicalize_name(requirement.name), []).append(requirement)
        for sibling in FIRST_PARTY:
            if sibling not in pins:
                problems.append(f"{METAPACKAGE}: does not require {sibling}")
            for requirement in pins.get(sibling, []):
                if str(requirement.specifier) != f"=={version}":
                    problems.append(f"{METAPACKAGE}: pins {requirement}, not =={version}")

    for name, package in {**FIRST_PARTY, **EXAMPLES}.items():
        if name not in wheels:
            continue
        metadata, names = wheels[name]
        if f"{package}/py.typed" not in names:
            problems.append(f"{name}: the wheel has no {package}/py.typed")
        if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
            problems.append(f"{name}: the wheel has no LICENSE")
        for line in metadata.get_all("Requires-Dist") or []:
            requirement = Requirement(line)
            if canonicalize_name(requirement.name) == "destilation-core" and version not in requirement.specifier:
                problems.append(f"{name}: requires {requirement}, which does not admit {version}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(Path(argv[1]), Path(argv[2]) if len(argv) == 3 else None)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"built distributions agree: version {(ROOT / 'VERSION').read_text().strip()}, pins, py.typed, LICENSE")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
