"""The report's kernel process: ipykernel's own kernel, with some modules made unimportable.

``cfposture report`` starts its kernels as ``python -m cfposture._kernel NAMES -f FILE``
(``report.kernels.ReportKernelSpecs``): ``NAMES`` is a comma-separated list of modules that are
set to ``None`` in ``sys.modules`` before ipykernel is imported, the rest is ipykernel's own
command line. The list holds ``debugpy``: ipykernel imports its debugger, and with it debugpy's
vendored pydevd, as it builds the kernel, ~0.1 s of every report kernel's start for debugging
nobody can do in a scheduled report (ipykernel runs without a debugger when debugpy is
missing). It also holds ``report.kernels.SKIPPED_IMPORTS``, so they are skipped from the start
rather than from the warm-up on.

This module imports nothing but ``sys`` before ipykernel: it runs first in every kernel.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    skipped, rest = (argv[0], argv[1:]) if argv else ("", [])
    for name in filter(None, skipped.split(",")):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance(argv=rest)


if __name__ == "__main__":
    main(sys.argv[1:])
