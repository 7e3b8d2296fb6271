"""``joinedup token``, ``joinedup audit verify|checkpoint`` and ``joinedup access rebuild``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from joinedup.access import audit, checkpoints, rebuild
from joinedup.access.principal import ClaimsError, Principal, Role
from joinedup.access.settings import AccessSettings
from joinedup.access.tokens import dev_token
from joinedup.config import get_settings
from joinedup.store.base import Store, StoreExtension

#: What a role's token grants when ``--scope`` is not given.
DEFAULT_SCOPES = {
    Role.CLINICIAN: "user/*.cruds",
    Role.SOCIAL_CARE: "user/*.cruds",
    Role.CARE_COORDINATOR: "user/*.cruds",
    Role.PLACE_LEADER: "user/*.rs",
    Role.ANALYST: "user/*.rs",
    Role.ADMIN: "user/*.cruds",
    Role.CITIZEN: "patient/*.rs patient/Consent.cruds",
    Role.SYSTEM: "system/*.cruds",
}


def token_command(
    role: Annotated[Role, typer.Option(help="Who the token is for.", case_sensitive=False)],
    org: Annotated[str | None, typer.Option(help="The user's organisation (ODS code).")] = None,
    practitioner: Annotated[str | None, typer.Option(help="The user's Practitioner id.")] = None,
    patient: Annotated[str | None, typer.Option(help="The citizen's own Patient id.")] = None,
    scope: Annotated[
        list[str] | None,
        typer.Option(help="SMART v2 scope(s), e.g. 'user/*.rs'; repeat or space-separate."),
    ] = None,
    minutes: Annotated[float, typer.Option(help="Minutes until the token expires.", min=0)] = 60,
) -> None:
    """Print a dev token signed with the local key (for tools, tests and the demo).

    Example:  joinedup token --role clinician --org A81001 --practitioner gp-1 --minutes 30
    """
    scopes = " ".join(scope) if scope else DEFAULT_SCOPES[role]
    subject = practitioner or patient or f"{role.value}@{org or 'joinedup'}"
    claims = {
        "sub": subject,
        "role": role.value,
        "scope": scopes,
        "org": org,
        "practitioner": practitioner,
        "patient": patient,
    }
    try:
        principal = Principal.from_claims(claims)
    except ClaimsError as exc:
        raise typer.BadParameter(str(exc)) from None
    if not principal.scopes.grants:
        raise typer.BadParameter(
            f"no SMART clinical-data scope in {scopes!r}; use e.g. 'user/*.rs' or 'patient/*.rs'",
            param_hint="--scope",
        )
    typer.echo(dev_token(get_settings().data_dir, principal, minutes=minutes))


audit_app = typer.Typer(help="The audit log of every request.", no_args_is_help=True)

_DB_OPTION = typer.Option(help="The record's database URL (default: the configured record).")


def _open(db: str | None, *extensions: StoreExtension) -> Store:
    from joinedup.store import open_store

    return open_store(db or get_settings().record_url(), extensions=extensions)


def _checkpoint_files(extra: list[Path] | None) -> tuple[tuple[Path, ...], bytes]:
    access, data_dir = AccessSettings(), get_settings().data_dir
    paths = checkpoints.checkpoint_paths(access, data_dir) + tuple(extra or ())
    return paths, checkpoints.checkpoint_key(access, data_dir)


@audit_app.command("verify")
def audit_verify_command(
    db: Annotated[str | None, _DB_OPTION] = None,
    checkpoint_file: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoints",
            help="Also compare with the checkpoints in this file (e.g. the witness copy "
            "fetched back from off the box); repeatable.",
        ),
    ] = None,
) -> None:
    """Recompute the audit hash chain and compare it with the signed checkpoints; name the
    first entry altered or removed, and any newest entries cut off.

    Checkpoints are read from <data-dir>/audit-checkpoints.jsonl, JOINEDUP_ACCESS_AUDIT_WITNESS
    and every --checkpoints file. Exits 0 when all is intact, 1 when it is not.

    Example:  joinedup audit verify --db sqlite:///joinedup-data/record.db
    """
    paths, key = _checkpoint_files(checkpoint_file)
    store = _open(db, audit.EXTENSION)
    try:
        report = checkpoints.check(store, paths, key)
    finally:
        store.close()
    chain = report.chain
    if report.intact:
        typer.echo(f"audit chain intact: {chain.entries} entries, head {chain.head}")
        if report.latest is None:
            typer.echo(
                "no checkpoints found: removal of the newest entries cannot be detected "
                f"(looked in {', '.join(str(p) for p in paths)})",
                err=True,
            )
        else:
            typer.echo(
                f"agrees with {report.checkpoints} checkpoints; the latest, "
                f"{report.latest.describe()}, recorded {report.latest.entries} entries"
            )
        return
    typer.echo(
        f"audit log BROKEN (entries checked: {chain.entries}; last good hash {chain.head}):",
        err=True,
    )
    for problem in report.problems:
        typer.echo(f"  - {problem}", err=True)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint_command(db: Annotated[str | None, _DB_OPTION] = None) -> None:
    """Anchor the audit log's current head now (the server also does so every
    JOINEDUP_ACCESS_CHECKPOINT_EVERY entries). Refuses, exit 1, if the log does not verify.

    Example:  joinedup audit checkpoint --db sqlite:///joinedup-data/record.db
    """
    paths, key = _checkpoint_files(None)
    store = _open(db, audit.EXTENSION)
    try:
        report = checkpoints.check(store, paths, key)
    finally:
        store.close()
    if not report.intact:
        typer.echo("not anchoring a log that does not verify: run joinedup audit verify", err=True)
        raise typer.Exit(1)
    checkpoints.write(paths, key, report.chain.entries, report.chain.head, datetime.now(UTC))
    typer.echo(
        f"checkpoint written: {report.chain.entries} entries, head {report.chain.head} "
        f"to {', '.join(str(p) for p in paths)}"
    )


access_app = typer.Typer(help="The access policy's materialised tables.", no_args_is_help=True)


@access_app.command("rebuild")
def access_rebuild_command(
    db: Annotated[str | None, _DB_OPTION] = None,
    batch: Annotated[int, typer.Option(help="Resources per transaction.", min=1)] = 1000,
) -> None:
    """Recompute relationships, organisations and consent choices from the stored record.

    For data loaded without the access extensions, or after a change to how they read the
    record. Safe to run while the server runs, and to run again.

    Example:  joinedup access rebuild --db postgresql://joinedup@db/record
    """
    from joinedup.access.install import EXTENSIONS

    console = Console(stderr=True)
    store = _open(db, *EXTENSIONS)
    try:
        with Progress(
            TextColumn("[bold]Rebuilding access tables"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("rebuild", total=rebuild.count_sources(store))
            result = rebuild.rebuild(
                store, batch=batch, on_batch=lambda n: progress.advance(task, n)
            )
    finally:
        store.close()
    tables = ", ".join(f"{table} {rows:,}" for table, rows in result.rows.items())
    typer.echo(f"{result.resources:,} resources read; rows now: {tables}")
