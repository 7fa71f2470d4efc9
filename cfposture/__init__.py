"""cfposture: audit the security posture of Cloudflare accounts.

import cfposture as cfp
snap = cfp.load("sample")      # or a snapshot folder written by cfposture pull / sample
snap.tokens, snap.grants, snap.members, snap.audit_events, ...

The frame API is imported lazily (PEP 562), so ``cfposture scan`` and ``cfposture.formats``
start without pandas or the notebook stack.
"""

from __future__ import annotations

import sys
import types
from importlib import import_module

from .__about__ import __version__
from .errors import CfPostureError, NormalizeError, SnapshotError

TYPE_CHECKING = False  # not typing's: see cfposture.cli
if TYPE_CHECKING:
    from typing import Any

_LAZY = {
    "Drift": "drift",
    "drift": "drift",
    "findings": "findings",
    "Snapshot": "load",
    "history": "load",
    "load": "load",
    "exposure_trend": "scoring",
    "scores": "scoring",
}

__all__ = [
    "CfPostureError",
    "Drift",
    "NormalizeError",
    "Snapshot",
    "SnapshotError",
    "__version__",
    "drift",
    "exposure_trend",
    "findings",
    "history",
    "load",
    "scores",
]


def _lazy(module: str, name: str) -> property:
    def get(self: types.ModuleType) -> Any:
        return getattr(import_module(f"{__name__}.{module}"), name)

    def ignore(self: types.ModuleType, value: Any) -> None:
        """The import system records ``cfposture.load`` (the module) here; the function wins."""

    return property(get, ignore)


class _Package(types.ModuleType):
    """Properties, not ``__getattr__``: three names are also submodules (``load``, ``findings``,
    ``drift``), and importing a submodule would otherwise replace the function with it."""

    locals().update({name: _lazy(module, name) for name, module in _LAZY.items()})


sys.modules[__name__].__class__ = _Package
