"""The one error the generator raises for bad input (the CLI turns it into exit code 2)."""

from __future__ import annotations


class SynthInputError(ValueError):
    """Bad options or input files; the message is one line that says what to do."""
