"""Where real data lives, and how it is fetched and verified (imports nothing else of ours).

Data sets are the GeneMask release's public files (GPL-3.0): the hg38 6-mer PMI
ranking and the few-shot benchmarks Prom-core, Splice-40 and Cohn-enh
(:mod:`~genemask_viz.data.registry` lists them with their SHA-256). One resolver
answers where each one is (:func:`dataset_path`, searching ``$GENEMASK_DATA``, the
user cache, then ``../shared/data``); :func:`fetch` downloads what is missing.

>>> from genemask_viz.data import dataset_path  # doctest: +SKIP
>>> dataset_path("Prom-core")                    # doctest: +SKIP
PosixPath('/home/me/.cache/genemask_viz/genemask/fewshot/Prom-core')
"""

from .fetch import fetch
from .registry import DATASETS, DEFAULT_BASE_URL, LICENSE, RELEASE_COMMIT, RELEASE_REPO, DataFile, DataSet
from .resolve import (ENV_CACHE, ENV_DATA, ENV_SHARED, ENV_URL, DataError, Located, base_url, data_roots,
                      dataset_path, dev_data_dir, download_root, get_dataset, locate, status,
                      user_cache_dir, verify)

__all__ = ["fetch", "DATASETS", "DEFAULT_BASE_URL", "LICENSE", "RELEASE_COMMIT", "RELEASE_REPO",
           "DataFile", "DataSet", "ENV_CACHE", "ENV_DATA", "ENV_SHARED", "ENV_URL", "DataError", "Located",
           "base_url", "data_roots", "dataset_path", "dev_data_dir", "download_root", "get_dataset",
           "locate", "status", "user_cache_dir", "verify"]
