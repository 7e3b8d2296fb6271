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


# --- subcommands: each capability owns its commands in its own module ---
from joinedup.access.commands import access_app, audit_app, token_command  # noqa: E402
from joinedup.demo import demo_command  # noqa: E402
from joinedup.export.commands import snapshot_command  # noqa: E402
from joinedup.measures.commands import measures_app  # noqa: E402
from joinedup.record.commands import load_command  # noqa: E402
from joinedup.server.commands import serve_command  # noqa: E402
from joinedup.synth.commands import OneLineErrors, synth_command  # noqa: E402
from joinedup.views.commands import views_app  # noqa: E402

app.command("demo", cls=OneLineErrors)(demo_command)  # the newcomer's one command
app.command("synth", cls=OneLineErrors)(synth_command)  # synthetic ICS (#2)
app.command("load")(load_command)  # the record (#3)
app.command("serve")(serve_command)
app.command("token")(token_command)  # access and audit (#4)
app.add_typer(audit_app, name="audit")
app.add_typer(access_app, name="access")
app.command("snapshot")(snapshot_command)  # secondary use (#5)
app.add_typer(views_app, name="views")  # SQL on FHIR (#6)
app.add_typer(measures_app, name="measures")  # outcomes (#7)
