"""``neurodeploy rules``: the design-rule registry, one line per rule."""

from __future__ import annotations

import click


@click.command("rules")
def rules_cmd():
    """List every design rule: name, where it is checked (network / placement / config / profile), what it requires."""
    from ..rules import format_rules

    click.echo(format_rules())
