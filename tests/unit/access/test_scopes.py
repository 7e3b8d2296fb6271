from joinedup.access.scopes import Context, Permission, ScopeSet, parse_scope


def test_v2_scopes_grant_exactly_their_letters() -> None:
    scopes = ScopeSet.parse("patient/*.rs user/Observation.cruds openid fhirUser")
    assert scopes.allows(Context.PATIENT, "Condition", Permission.READ)
    assert scopes.allows(Context.PATIENT, "Condition", Permission.SEARCH)
    assert not scopes.allows(Context.PATIENT, "Condition", Permission.CREATE)
    assert scopes.allows(Context.USER, "Observation", Permission.DELETE)
    assert not scopes.allows(Context.USER, "Condition", Permission.READ)
    assert not scopes.allows(Context.SYSTEM, "Observation", Permission.READ)


def test_v1_suffixes_map_to_v2_letters() -> None:
    read = parse_scope("user/Patient.read")
    write = parse_scope("user/Patient.write")
    assert read is not None and read.permissions == {Permission.READ, Permission.SEARCH}
    assert write is not None and write.permissions == {
        Permission.CREATE,
        Permission.UPDATE,
        Permission.DELETE,
    }


def test_malformed_and_granular_scopes_grant_nothing() -> None:
    for scope in (
        "user/*.sr",  # letters out of order
        "user/*.rr",
        "user/*.x",
        "user/*.",
        "nurse/*.rs",
        "user/Observation.rs?category=laboratory",  # granular: dropped, so narrower
        "launch/patient",
    ):
        assert parse_scope(scope) is None, scope


def test_scope_set_prints_back_in_canonical_form() -> None:
    assert (
        str(ScopeSet.parse("user/Patient.read system/*.cruds")) == "user/Patient.rs system/*.cruds"
    )
