from hypothesis import given
from hypothesis import strategies as st

from joinedup.fhir import nhs_number


def test_known_valid_and_invalid_numbers() -> None:
    # 943 476 5919 is the NHS Data Dictionary's worked example.
    assert nhs_number.is_valid("9434765919")
    assert nhs_number.is_valid("943 476 5919")
    assert not nhs_number.is_valid("9434765918")
    assert not nhs_number.is_valid("943476591")
    assert not nhs_number.is_valid("94347659xx")


def test_a_prefix_whose_check_digit_is_ten_has_no_valid_number() -> None:
    prefixes = [f"{p:09d}" for p in range(999_000_000, 999_000_100)]
    impossible = [p for p in prefixes if nhs_number.check_digit(p) is None]
    assert impossible, "some prefixes must be unusable"
    for prefix in impossible:
        assert not any(nhs_number.is_valid(f"{prefix}{d}") for d in range(10))


@given(st.integers(min_value=0, max_value=nhs_number.CAPACITY - 1))
def test_serials_give_valid_synthetic_numbers(serial: int) -> None:
    number = nhs_number.from_serial(serial)
    assert nhs_number.is_synthetic(number)


def test_serials_are_one_to_one() -> None:
    numbers = [nhs_number.from_serial(i) for i in range(50_000)]
    assert len(set(numbers)) == len(numbers)
    assert nhs_number.from_serial(nhs_number.CAPACITY - 1).startswith("99999999")


def test_serials_outside_the_range_are_refused() -> None:
    for bad in (-1, nhs_number.CAPACITY):
        try:
            nhs_number.from_serial(bad)
        except ValueError:
            continue
        raise AssertionError(f"serial {bad} was accepted")
