"""Celery workers: thin tasks that call the `indexing` library.

With KNOWHERE_METRICS_PORT set, the worker's pool processes share their Prometheus counts
through a folder (prometheus_client's multiprocess mode), which prometheus_client requires
to be named before it is first imported: hence here, before anything else runs. A folder
given in PROMETHEUS_MULTIPROC_DIR is used as it is; otherwise one is made for this worker
(and removed when it stops).
"""

import os
import tempfile

if os.environ.get("KNOWHERE_METRICS_PORT") and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="knowhere-metrics-")
    os.environ["KNOWHERE_METRICS_DIR_OWNED"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
