"""Remediation: ``cfposture plan`` writes reviewable actions; ``cfposture apply`` carries them
out through the API, safely (dry run by default, no lost updates, idempotent, logged)."""

from .apply import apply_plan
from .plan import build_plan, render_plan

__all__ = ["apply_plan", "build_plan", "render_plan"]
