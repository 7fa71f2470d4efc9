"""Environment variables cfposture reads, in one place (this module imports nothing heavy, so
the report can hand them to its kernels before it loads pandas).

Set by users:

* ``CLOUDFLARE_API_TOKEN``: the token ``pull``, ``scan --verify`` and ``apply`` use.
* ``CFPOSTURE_DATA``: another folder of shipped data (catalogs, sample).
* ``CFPOSTURE_CACHE_DIR``: where ``cfposture.cache`` keeps per-snapshot results; ``off`` turns
  the cache off.
* ``CFPOSTURE_CACHE_MAX_MB``: the space the cached audit-event frames may take (default 2048).
* ``CFPOSTURE_MAX_FILE_MB``: the most one snapshot or export file may hold once decompressed
  (default 1024; ``cfposture.bounded``).

Set by ``cfposture report`` for its own kernels (not for users):
"""

#: the folder holding the view the report computed once, for its kernels to read
VIEW_CACHE = "CFPOSTURE_VIEW_CACHE"
#: set in the report's kernels: figures leave plotly.js out, the page writer adds it once
REPORT_KERNEL = "CFPOSTURE_REPORT_KERNEL"
