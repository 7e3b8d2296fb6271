"""The one `joinedup` command. Each capability owns its subcommands in its own
``commands.py``; they are registered here so ``joinedup --help`` lists them all."""

from __future__ import annotations

import typer

from joinedup import __version__

app = typer.Typer(
    name="joinedup",
    help=(
        "An open shared care record and analytics platform for an Integrated Care System.\n\n"
        "Start with:  joinedup demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)


@app.callback()
def main() -> None:
    """An open shared care record and analytics platform for an Integrated Care System."""


@app.command()
def version() -> None:
    """Print the joinedup version.

    Example:  joinedup version
    """
    typer.echo(__version__)


# --- subcommands, one block per capability (keep this list sorted by capability) ---
# (capabilities append their registrations below this line)
