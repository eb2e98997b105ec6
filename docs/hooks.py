"""MkDocs hooks (mkdocs.yml ``hooks:``): the command reference is generated from the click commands' own help
at build time, and Sphinx-style roles in docstrings (``:func:`x```) render as plain code."""

from __future__ import annotations

import re

import click

MARKER = "<!-- commands -->"
WIDTH = 78


def _commands(cmd: click.Command, path: list[str]):
    yield cmd, path
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.commands):
            yield from _commands(cmd.commands[name], [*path, name])


def command_reference() -> str:
    """Markdown: one section per command (groups' subcommands too), its ``--help`` text verbatim."""
    from neurodeploy.cli import cli

    out = []
    for cmd, path in _commands(cli, ["neurodeploy"]):
        parent = None
        for depth in range(1, len(path) + 1):
            sub = _lookup(cli, path[1:depth])
            parent = click.Context(sub, info_name=path[depth - 1], parent=parent, terminal_width=WIDTH,
                                   max_content_width=WIDTH, **sub.context_settings)
        name = " ".join(path)
        level = "#" * min(len(path) + 1, 4)
        summary = cmd.get_short_help_str(limit=200)
        out += [f"{level} {name}", "", summary, "", "```text", cmd.get_help(parent).rstrip(), "```", ""]
    return "\n".join(out)


def _lookup(cli, names):
    cmd = cli
    for n in names:
        cmd = cmd.commands[n]
    return cmd


def on_page_markdown(markdown, page, config, files):
    if MARKER in markdown:
        return markdown.replace(MARKER, command_reference())
    return markdown


_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|exc|obj):<code>~?")


def on_page_content(html, page, config, files):
    return _ROLE.sub("<code>", html)
