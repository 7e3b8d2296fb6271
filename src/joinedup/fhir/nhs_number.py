"""NHS numbers: the modulus-11 check digit and the reserved synthetic range.

Algorithm from the NHS Data Dictionary ("NHS Number"): weight the first nine digits by
10..2, take the sum modulo 11, the check digit is 11 minus that remainder (11 becomes 0,
10 means the number is invalid).
"""

from __future__ import annotations

SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"

#: NHS England reserves 999 000 0000 – 999 999 9999 for test and synthetic data.
TEST_RANGE = (9_990_000_000, 9_999_999_999)


def check_digit(first_nine: str) -> int | None:
    """The check digit for nine digits, or None when no valid number can end them."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("an NHS number check digit needs exactly nine digits")
    total = sum(int(d) * w for d, w in zip(first_nine, range(10, 1, -1), strict=True))
    digit = 11 - total % 11
    if digit == 11:
        return 0
    if digit == 10:
        return None
    return digit


def is_valid(value: str) -> bool:
    """True for ten digits (spaces allowed as 3-3-4) whose last digit checks."""
    digits = value.replace(" ", "")
    if len(digits) != 10 or not digits.isdigit():
        return False
    return check_digit(digits[:9]) == int(digits[9])


def is_synthetic(value: str) -> bool:
    """True for a valid number in the reserved test range."""
    digits = value.replace(" ", "")
    return is_valid(digits) and TEST_RANGE[0] <= int(digits) <= TEST_RANGE[1]


#: Each block of ten ninth digits holds exactly nine that give a valid check digit (the ninth
#: digit has weight 2, and 2d mod 11 takes ten distinct values), so the test range holds
#: 100,000 blocks x 9 = 900,000 synthetic numbers.
CAPACITY = 900_000


def from_serial(serial: int) -> str:
    """The ``serial``-th synthetic NHS number (0-based): one-to-one and O(1), for generators."""
    if not 0 <= serial < CAPACITY:
        raise ValueError(f"synthetic NHS numbers run from serial 0 to {CAPACITY - 1}")
    block, position = divmod(serial, 9)
    first_eight = str(99_900_000 + block)
    valid = [d for d in range(10) if check_digit(f"{first_eight}{d}") is not None]
    ninth = valid[position]
    return f"{first_eight}{ninth}{check_digit(f'{first_eight}{ninth}')}"
