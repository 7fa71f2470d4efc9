"""``cfposture report``: run every notebook with papermill and publish the result.

Output folder (default ``./cfposture-report/``):

* ``notebooks/NAME.ipynb``: the executed notebooks, the immutable record of the run;
* ``NAME.html``: each notebook as a self-contained page (plotly.js inlined, no CDN, code hidden);
* ``index.html``: the headline figures and links;
* ``findings.json``, ``findings.csv``, ``findings.sarif``, ``summary.json``.
"""

from .kernels import SKIPPED_IMPORTS, skip_slow_imports
from .run import write_report

__all__ = ["SKIPPED_IMPORTS", "skip_slow_imports", "write_report"]
