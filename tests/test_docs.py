"""The README and the documentation site stay in step with the code: the README's command table lists every
command, its first screen shows the install and the quick start, and every API page of docs/ names a module
(or object) that exists. (`make docs` builds the site itself with `mkdocs build --strict`.)"""

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_command_table_lists_every_command():
    from neurodeploy.cli import cli

    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## Commands"):readme.index("## Python API")]
    assert re.findall(r"^\| `([\w-]+)` \|", table, re.M) and \
        sorted(re.findall(r"^\| `([\w-]+)` \|", table, re.M)) == sorted(cli.commands)


def test_readme_first_screen_has_install_and_quick_start():
    first = "\n".join((ROOT / "README.md").read_text().splitlines()[:42])
    for text in ("## Install", "pip install .", "## Quick start", "make demo", "make test", ". .venv/bin/activate"):
        assert text in first, text


def _resolve(dotted: str):
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def test_api_pages_name_existing_objects():
    targets = [m for p in (ROOT / "docs").rglob("*.md") for m in re.findall(r"^::: ([\w.]+)", p.read_text(), re.M)]
    assert targets
    for t in targets:
        assert _resolve(t) is not None, t


def test_mkdocs_nav_pages_exist():
    import yaml

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("", lambda loader, suffix, node: None)   # mkdocs' !!python/name tags
    nav = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)["nav"]

    def pages(item):
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for v in item.values():
                yield from pages(v)
        elif isinstance(item, list):
            for v in item:
                yield from pages(v)

    missing = [p for p in pages(nav) if not (ROOT / "docs" / p).is_file()]
    assert not missing, missing


def test_readme_extras_table_lists_every_extra():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for page in ("README.md", "docs/index.md"):
        text = (ROOT / page).read_text()
        start = text.index("| extra |")
        block = text[start:text.index("\n\n", start)]
        table = sorted(re.findall(r"^\| `([\w-]+)` \| ", block, re.M))
        assert table == sorted(extras), page
