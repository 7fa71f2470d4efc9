"""``cfposture report``: run every notebook with papermill and publish the result.

Output folder (default ``./cfposture-report/``):

* ``notebooks/NAME.ipynb``: the executed notebooks, the immutable record of the run;
* ``NAME.html``: each notebook as a self-contained page (plotly.js inlined, no CDN, code hidden);
* ``index.html``: the headline figures and links;
* ``findings.json``, ``findings.csv``, ``findings.sarif``, ``summary.json``.
"""

import sys

# jsonschema, which nbformat imports (and papermill, nbconvert and plotly's renderers import
# nbformat), imports rfc3987_syntax when it is installed (JupyterLab pulls it in), and that
# module compiles a Lark grammar at import: 1.5 s per process on these machines, for the
# "iri" format check that no notebook schema uses (python-jsonschema/jsonschema#1428).
# The report's processes (this one and its kernels, see kernels.WARMUP) do without it;
# jsonschema then simply has no "iri" format checker. Nothing changes if it is already loaded.
SKIPPED_IMPORTS = ("rfc3987_syntax",)
for _name in SKIPPED_IMPORTS:
    sys.modules.setdefault(_name, None)  # type: ignore[arg-type]

from .run import write_report  # noqa: E402 - after the import guard above

__all__ = ["write_report"]
