"""``cfposture report``: run every notebook with papermill and publish the result.

Output folder (default ``./cfposture-report/``):

* ``notebooks/NAME.ipynb``: the executed notebooks, the immutable record of the run;
* ``NAME.html``: each notebook as a self-contained page (plotly.js inlined, no CDN, code hidden);
* ``index.html``: the headline figures and links;
* ``findings.json``, ``findings.csv``, ``findings.sarif``, ``summary.json``.
"""

from .run import write_report

__all__ = ["write_report"]
