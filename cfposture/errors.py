"""The few exceptions cfposture raises on purpose.

Every message is one line that says what went wrong *and* what to do next, because the command
line prints it as-is (exit code 2, no traceback) and notebooks show it to analysts.
"""

from __future__ import annotations

SEVERITIES = ["info", "low", "medium", "high", "critical"]
"""Finding severities, lowest first (here, not in schemas, so the command line starts without
pandas)."""

SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class CfPostureError(Exception):
    """Base class: an expected failure with a message a person can act on."""

    exit_code = 2


class SnapshotError(CfPostureError):
    """A snapshot folder is missing, incomplete, corrupted or from a newer cfposture."""


class NormalizeError(CfPostureError):
    """The API JSON in a snapshot has a shape cfposture cannot turn into frames."""
