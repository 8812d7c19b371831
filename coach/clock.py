"""Durations as a candidate reads them: m:ss (scorecards, timers, delivery notes, audio messages)."""

from __future__ import annotations


def clock(seconds: float, hours: bool = False) -> str:
    """m:ss of the absolute value (a caller shows overtime's sign itself); with `hours`, h:mm:ss from
    an hour on (a recording's length in a message), else minutes keep counting (180:00)."""
    whole = round(abs(seconds))
    if hours and whole >= 3600:
        return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return f"{whole // 60}:{whole % 60:02d}"
