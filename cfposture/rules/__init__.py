"""The rule catalogue: stable ids, never renumbered (see the README's rule table)."""

from . import members, oauth, tokens  # noqa: F401  (registers the rules)
from ._base import RULES, Context, Params, Rule

__all__ = ["RULES", "Context", "Params", "Rule"]
