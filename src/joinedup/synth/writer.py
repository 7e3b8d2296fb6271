"""Write output into a temporary sibling directory and rename it into place at the end,
so a failed or interrupted run never leaves a half-written output directory."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from joinedup.synth.errors import SynthInputError
from joinedup.synth.serialise import Rendered


def check_output_dir(out: Path, force: bool) -> None:
    """Refuse an output we would clobber or cannot write, before any work is done."""
    if out.exists() and not out.is_dir():
        raise SynthInputError(f"--out {out} is a file; give a directory path")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise SynthInputError(
            f"--out {out} is not empty; choose a new directory or add --force to replace it"
        )
    parent = out.resolve().parent
    if not parent.is_dir():
        raise SynthInputError(f"--out {out}: the folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK) or (out.is_dir() and not os.access(out, os.W_OK)):
        raise SynthInputError(f"--out {out} is not writable; choose a directory you can write to")


class AtomicOutput:
    """NDJSON files per resource type, appended chunk by chunk, published on success."""

    def __init__(self, out: Path, force: bool) -> None:
        self.out = out
        self.force = force
        try:
            self.tmp = Path(
                tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.resolve().parent)
            )
        except OSError as exc:
            raise SynthInputError(
                f"--out {out}: cannot create files next to it ({exc.strerror}); "
                "choose another folder"
            ) from None
        self.tmp.chmod(0o755)  # mkdtemp makes it private; the published folder should not be
        self.files: dict[str, BinaryIO] = {}
        self.counts: dict[str, int] = {}

    def write(self, rendered: Rendered) -> None:
        for kind, data in rendered.items():
            handle = self.files.get(kind)
            if handle is None:
                handle = self.files[kind] = (self.tmp / f"{kind}.ndjson").open("wb")
            handle.write(data)
            self.counts[kind] = self.counts.get(kind, 0) + data.count(b"\n")

    def __enter__(self) -> AtomicOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for handle in self.files.values():
            handle.close()
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        if self.out.is_dir():
            if any(self.out.iterdir()) and not self.force:
                shutil.rmtree(self.tmp, ignore_errors=True)
                raise SynthInputError(f"--out {self.out} was filled while generating; add --force")
            shutil.rmtree(self.out)
        os.rename(self.tmp, self.out)
