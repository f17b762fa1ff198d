"""What a run observed: frames, item results, the report."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Literal

__all__ = ["ConformanceReport", "Frame", "ItemResult", "Outcome"]

# Frames longer than this are cut in text reports (JSON keeps them whole).
_LINE = 300

FrameKind = Literal["handshake", "accept", "refuse", "text", "bytes", "close", "note"]


class Outcome(enum.Enum):
    """How an item ended."""

    PASS = "pass"
    FAIL = "fail"
    SKIP = "skip"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Frame:
    """One thing that went over a socket of an item (or a note about it).

    Attributes:
        socket: the socket's number within the item, from 1.
        at: seconds since the item started.
        sent: True for what the suite sent, False for what it received.
        kind: "handshake" (the offer; `text` lists the tokens), "accept"
            (`text` is the selected subprotocol or None), "refuse" (`code`
            is the HTTP status, or the close code of an ASGI application
            closing before it accepted), "text", "bytes", "close" (`code`,
            `reason`), or "note" (what the suite noticed, in `text`).
        text: the text of the frame.
        data: the bytes of a binary frame.
        code: a close code or HTTP status.
        reason: a close reason.
    """

    socket: int
    at: float
    sent: bool
    kind: FrameKind
    text: str | None = None
    data: bytes | None = None
    code: int | None = None
    reason: str | None = None

    def describe(self) -> str:
        """The frame without its socket and time, e.g. `close 4400 "Bad"`.

        Returns:
            One line.
        """
        kind = self.kind
        if kind == "text":
            return f"text {self.text}"
        if kind == "bytes":
            return f"bytes {self.data!r}"
        if kind == "close":
            reason = json.dumps(self.reason or "", ensure_ascii=False)
            return f"close {self.code} {reason}" if self.code is not None else "close (no code)"
        if kind == "handshake":
            return f"handshake offering [{self.text or ''}]"
        if kind == "accept":
            return f"accepted, subprotocol {self.text!r}"
        if kind == "refuse":
            return f"refused ({self.code}{', ' + self.reason if self.reason else ''})"
        return f"note: {self.text}"

    def render(self) -> str:
        """The frame as a log line: socket, time, direction, content.

        Returns:
            One line such as `#1 +0.003 > text {"type":"ping"}`.
        """
        arrow = "--" if self.kind == "note" else (">" if self.sent else "<")
        text = self.describe()
        if len(text) > _LINE:
            text = f"{text[:_LINE]}... ({len(text)} characters)"
        return f"#{self.socket} +{self.at:.3f} {arrow} {text}"

    def as_dict(self) -> dict[str, object]:
        """The frame as JSON-ready data.

        Returns:
            A dict without the None fields; bytes as latin-1 text.
        """
        out: dict[str, object] = {
            "socket": self.socket,
            "at": round(self.at, 4),
            "direction": "sent" if self.sent else "received",
            "kind": self.kind,
        }
        if self.text is not None:
            out["text"] = self.text
        if self.data is not None:
            out["data"] = self.data.decode("latin-1")
        if self.code is not None:
            out["code"] = self.code
        if self.reason is not None:
            out["reason"] = self.reason
        return out


@dataclasses.dataclass(frozen=True, kw_only=True)
class ItemResult:
    """The result of one checklist item.

    Attributes:
        id: the item's id in reference/protocols.md section C, e.g. "C.1.4".
        title: what the item checks.
        subprotocol: the subprotocol it ran on.
        outcome: pass, fail or skip.
        message: what was expected and what was observed, or why it was
            skipped.
        frames: everything sent and received, in order.
        duration: seconds the item took.
    """

    id: str
    title: str
    subprotocol: str
    outcome: Outcome
    message: str
    frames: tuple[Frame, ...] = ()
    duration: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the item passed."""
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        """Whether the item failed."""
        return self.outcome is Outcome.FAIL

    @property
    def skipped(self) -> bool:
        """Whether the item was skipped."""
        return self.outcome is Outcome.SKIP

    def render(self, *, frames: bool | None = None) -> str:
        """The item as text: one line, then its frames when asked.

        Args:
            frames: show the frames; None (default) shows them for a
                failure only.

        Returns:
            Lines joined with newlines.
        """
        line = f"{self.outcome.name:<4}  {self.id:<7} {self.title}"
        if self.message:
            line += f": {self.message}"
        if frames is None:
            frames = self.failed
        if not frames or not self.frames:
            return line
        return "\n".join([line, *(f"        {frame.render()}" for frame in self.frames)])

    def as_dict(self) -> dict[str, object]:
        """The item as JSON-ready data.

        Returns:
            id, title, subprotocol, outcome, message, duration, frames.
        """
        return {
            "id": self.id,
            "title": self.title,
            "subprotocol": self.subprotocol,
            "outcome": self.outcome.value,
            "message": self.message,
            "duration": round(self.duration, 4),
            "frames": [frame.as_dict() for frame in self.frames],
        }


@dataclasses.dataclass(frozen=True)
class ConformanceReport:
    """The results of a run, in checklist order.

    Attributes:
        target: the URL, or a description of the ASGI application.
        items: one result per item run.
    """

    target: str
    items: tuple[ItemResult, ...]

    @property
    def passed(self) -> tuple[ItemResult, ...]:
        """The items that passed."""
        return tuple(item for item in self.items if item.passed)

    @property
    def failed(self) -> tuple[ItemResult, ...]:
        """The items that failed."""
        return tuple(item for item in self.items if item.failed)

    @property
    def skipped(self) -> tuple[ItemResult, ...]:
        """The items that were skipped."""
        return tuple(item for item in self.items if item.skipped)

    @property
    def ok(self) -> bool:
        """True when no item failed (skips allowed)."""
        return not self.failed

    def item(self, item_id: str) -> ItemResult:
        """The result of one item.

        Args:
            item_id: e.g. "C.1.4".

        Returns:
            Its result.

        Raises:
            KeyError: the item was not run.
        """
        for item in self.items:
            if item.id == item_id:
                return item
        raise KeyError(f"item {item_id!r} was not run")

    def summary(self) -> str:
        """One line: how many items passed, failed, were skipped.

        Returns:
            e.g. "36 items: 35 passed, 1 failed, 0 skipped".
        """
        return (
            f"{len(self.items)} items: {len(self.passed)} passed, "
            f"{len(self.failed)} failed, {len(self.skipped)} skipped"
        )

    def to_text(self, *, frames: bool | None = None) -> str:
        """The report as text: a header, one line per item (frames under
        failures), a summary.

        Args:
            frames: show frames for every item (True), none (False), or
                for failures only (None, the default).

        Returns:
            Lines joined with newlines.
        """
        lines = [f"gqlws conformance: {self.target}"]
        lines.extend(item.render(frames=frames) for item in self.items)
        lines.append(self.summary())
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data.

        Returns:
            target, ok, counts and items.
        """
        return {
            "target": self.target,
            "ok": self.ok,
            "passed": len(self.passed),
            "failed": len(self.failed),
            "skipped": len(self.skipped),
            "items": [item.as_dict() for item in self.items],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (see `as_dict`).

        Args:
            indent: passed to `json.dumps`.

        Returns:
            A JSON document.
        """
        return json.dumps(self.as_dict(), indent=indent, ensure_ascii=False)
