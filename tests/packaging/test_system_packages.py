"""README.md's System requirements name every system package the window needs.

Reads what PySide6's platform plugins (xcb, wayland, the xcb GL integrations) and QtGui/QtWidgets
load from the system with ldd, finds each library's Debian package with dpkg, and checks that the
package is named in the README's apt-get line, is a dependency of one named there, or belongs to
Debian's base system (the packages of priority "required" and what they depend on: what
`debootstrap --variant=minbase` installs). Debian machines only; CI installs the packages first.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lmstudio_app.gui.platform_check import PROVIDERS, unresolved_libraries

README = Path(__file__).resolve().parents[2] / "README.md"

pytestmark = pytest.mark.skipif(
    not (shutil.which("dpkg-query") and shutil.which("ldd")),
    reason="reads package ownership with dpkg (Debian/Ubuntu) and libraries with ldd")


def pyside() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0])


def readme_command(tool: str) -> list[str]:
    """The package names of the `tool install` command in README.md's System requirements."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## System requirements"):]
    section = section[:section.index("\n## ", 3)]
    match = re.search(rf"{tool} install ((?:[\w.+-]+|\\|\s)+)", section)
    assert match, f"README.md's System requirements has no `{tool} install` command"
    return [word for word in match.group(1).split() if word != "\\"]


def window_binaries() -> list[Path]:
    qt = pyside() / "Qt" / "plugins"
    files = [qt / "platforms" / "libqxcb.so", qt / "platforms" / "libqwayland.so",
             *sorted((qt / "xcbglintegrations").glob("*.so")),
             *pyside().glob("QtGui.*.so"), *pyside().glob("QtWidgets.*.so")]
    assert all(f.is_file() for f in files) and len(files) >= 6
    return files


def system_libraries() -> dict[str, Path]:
    """soname -> path of every library the window's binaries load from outside PySide6."""
    libs: dict[str, Path] = {}
    for binary in window_binaries():
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            match = re.match(r"\s*(\S+) => (/\S+)", line)
            if match and pyside() not in Path(match.group(2)).parents:
                libs[match.group(1)] = Path(match.group(2))
    return libs


def owners(paths: list[Path]) -> dict[Path, str]:
    """The Debian package owning each path (merged /usr: dpkg may know /lib or /usr/lib)."""
    variants = {}
    for path in paths:
        for v in {path, path.resolve()}:
            s = str(v)
            alt = s[4:] if s.startswith("/usr/") else "/usr" + s
            variants[s], variants[alt] = path, path
    out = subprocess.run(["dpkg-query", "-S", *variants], capture_output=True, text=True)
    found: dict[Path, str] = {}
    for line in out.stdout.splitlines():
        package, _, file = line.partition(": ")
        if file in variants:
            found[variants[file]] = package.split(":")[0]
    return found


def installed_packages() -> dict[str, dict[str, object]]:
    fmt = "${Package}\\t${Priority}\\t${Depends}, ${Pre-Depends}\\t${Provides}\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], capture_output=True, text=True,
                         check=True)
    packages: dict[str, dict[str, object]] = {}
    provided: dict[str, str] = {}
    for line in out.stdout.splitlines():
        name, priority, depends, provides = line.split("\t")
        alternatives = [[re.sub(r"[:(].*", "", a).strip() for a in d.split("|")]
                        for d in depends.split(",") if d.strip()]
        packages[name] = {"priority": priority, "depends": alternatives}
        for p in provides.split(","):
            if p.strip():
                provided[re.sub(r"[:(].*", "", p).strip()] = name
    for info in packages.values():
        info["depends"] = {provided.get(a, a) for alts in info["depends"] for a in alts}
    return packages


def closure(roots: set[str], packages: dict[str, dict[str, object]]) -> set[str]:
    seen, todo = set(), [r for r in roots if r in packages]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [d for d in packages[name]["depends"] if d in packages and d not in seen]
    return seen


def test_readme_names_every_package_the_window_loads_from_the_system():
    unresolved = {b.name: unresolved_libraries(b, {"PATH": "/usr/bin:/bin"})
                  for b in window_binaries()}
    assert not any(unresolved.values()), (
        f"install README.md's packages on this machine first: {unresolved}")
    libs = system_libraries()
    owner = owners(list(libs.values()))
    assert set(owner) == set(libs.values()), "dpkg does not know some libraries"
    packages = installed_packages()
    named = readme_command("apt-get")
    base = closure({n for n, i in packages.items() if i["priority"] == "required"}, packages)
    covered = base | closure(set(named), packages)
    uncovered = {soname: owner[path] for soname, path in libs.items()
                 if owner[path] not in covered}
    assert not uncovered, f"README.md's apt-get line lacks the packages of {uncovered}"
    # The check's table names the same packages dpkg does, and the README names them all.
    for soname, (debian, _) in PROVIDERS.items():
        if soname in libs:
            assert owner[libs[soname]] == debian, soname
    assert {d for d, _ in PROVIDERS.values()} <= set(named)
    assert set(named) - {d for d, _ in PROVIDERS.values()} == {"python3-venv", "make"}


def test_readme_fedora_line_names_the_tables_packages():
    text = README.read_text(encoding="utf-8")
    fedora = text[text.index("sudo dnf install"):].split("`")[0].split()
    assert {f for _, f in PROVIDERS.values()} <= set(fedora)
