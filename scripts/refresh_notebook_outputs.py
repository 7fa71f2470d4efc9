"""Refresh the expected outputs that nbval compares, and strip every other output.

Run after a change that alters what the sample's summary cells print:

    python scripts/refresh_notebook_outputs.py

Each notebook runs with its default parameters (the embedded sample); the outputs of cells
marked ``# NBVAL_CHECK_OUTPUT`` are copied into the committed notebook, all other outputs and
execution counts are removed, tags and kernelspec are kept.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parent.parent / "notebooks"


def main() -> int:
    for path in sorted(ROOT.glob("*.ipynb")):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / path.name
            pm.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False)
            ran = nbformat.read(out, as_version=4)
        nb = nbformat.read(path, as_version=4)
        executed = [c for c in ran.cells if "injected-parameters" not in c.metadata.get("tags", [])]
        for cell, done in zip(nb.cells, executed, strict=True):
            if cell.cell_type != "code":
                continue
            keep = cell.source.startswith("# NBVAL_CHECK_OUTPUT")
            # nbval skips a cell with outputs but no execution count ("unrun")
            cell.execution_count = 1 if keep else None
            cell.outputs = list(done.outputs) if keep else []
        nbformat.write(nb, path)
        print(f"refreshed {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
