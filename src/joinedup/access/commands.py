"""``joinedup token`` and ``joinedup audit verify``."""

from __future__ import annotations

from typing import Annotated

import typer

from joinedup.access import audit
from joinedup.access.principal import ClaimsError, Principal, Role
from joinedup.access.tokens import dev_token
from joinedup.config import get_settings

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


@audit_app.command("verify")
def audit_verify_command(
    db: Annotated[
        str | None,
        typer.Option(help="The record's database URL (default: the configured record)."),
    ] = None,
) -> None:
    """Recompute the audit hash chain; name the first entry altered or removed.

    Exits 0 when the chain is intact, 1 when it is not.

    Example:  joinedup audit verify --db sqlite:///joinedup-data/record.db
    """
    from joinedup.store import open_store

    store = open_store(db or get_settings().record_url(), extensions=[audit.EXTENSION])
    try:
        result = audit.verify(store)
    finally:
        store.close()
    if result.intact:
        typer.echo(f"audit chain intact: {result.entries} entries, head {result.head}")
        return
    typer.echo(
        f"audit chain BROKEN: {result.problem} "
        f"(entries checked before it: {result.entries}; last good hash {result.head})",
        err=True,
    )
    raise typer.Exit(1)
