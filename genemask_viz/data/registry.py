"""What real data exists: the GeneMask release's files, where they live there and here, checksums.

Source: the public code release of Roy et al., "GeneMask: Fast Pretraining of Gene
Sequences to Enable Few-Shot Learning" (ECAI 2023), GitHub repository
``roysoumya/GeneMask`` pinned to commit ``c7614461323015ffcbbdb39fc4778e9255ddfcab``.
**License: GPL-3.0** (the release's). The files are downloaded on request into a
folder outside this repository (see :mod:`genemask_viz.data.resolve`) and are never
part of it, nor committed.

Layout mapping (release path -> local path under a data root). The local layout is
the one of our development copy (``../shared/data``); the release layout is
*assumed* to hold the same files under these names (not checked against the
release's file listing, which was not reachable from the development machine):

- ``Data-A_norm-pmi-score-ranking.csv`` -> ``genemask/hg38_chr1-3_6mer_npmi_ranking.csv``
- ``Data-B_fewshot-task-datasets/<Task>/<rel>`` -> ``genemask/fewshot/<Task>/<rel>``
  for ``<Task>`` in Prom-core, Splice-40, Cohn-enh, with the same relative paths
  ``<rel>`` (e.g. ``10/train.tsv``, ``full-dataset/test.tsv``).

Should the release's paths differ, only :data:`DATASETS` changes (or a mirror in our
layout is used through ``GENEMASK_DATA_URL``); the SHA-256 checksums below were
computed from the development copies and guard every download.
"""

from __future__ import annotations

from dataclasses import dataclass

RELEASE_REPO = "roysoumya/GeneMask"
RELEASE_COMMIT = "c7614461323015ffcbbdb39fc4778e9255ddfcab"
#: where the files are downloaded from (``$GENEMASK_DATA_URL`` replaces it, e.g. a mirror)
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{RELEASE_REPO}/{RELEASE_COMMIT}/"
LICENSE = ("GPL-3.0: the files of the GeneMask release (github.com/roysoumya/GeneMask) keep its "
           "license; they are downloaded to your machine, never part of this repository")
FEWSHOT_RELEASE_DIR = "Data-B_fewshot-task-datasets"


@dataclass(frozen=True)
class DataFile:
    """One file: its path under a local data root, its path in the release, SHA-256 and size."""

    local: str
    remote: str
    sha256: str
    size: int


@dataclass(frozen=True)
class DataSet:
    """A named data set: a file (the ranking) or a folder (a few-shot task) of :class:`DataFile`."""

    name: str
    kind: str           # "ranking" or "fewshot"
    path: str           # local path of the file or folder, relative to a data root
    description: str
    files: tuple[DataFile, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)


def _fewshot(task: str, description: str, files: dict[str, tuple[str, int]]) -> DataSet:
    rows = tuple(DataFile(f"genemask/fewshot/{task}/{rel}", f"{FEWSHOT_RELEASE_DIR}/{task}/{rel}",
                          sha, size) for rel, (sha, size) in files.items())
    return DataSet(task, "fewshot", f"genemask/fewshot/{task}", description, rows)


DATASETS: dict[str, DataSet] = {d.name: d for d in (
    DataSet("hg38-ranking", "ranking", "genemask/hg38_chr1-3_6mer_npmi_ranking.csv",
            "all 4,096 6-mers ranked by the release's normalised PMI on GRCh38 chr1-3 (12 columns)",
            (DataFile("genemask/hg38_chr1-3_6mer_npmi_ranking.csv", "Data-A_norm-pmi-score-ranking.csv",
                      "2ce5b66caf6719f8a6e2c157c450d7c487222b38235a39a3a08d778b9f166ed5", 468913),)),
    _fewshot("Prom-core", "core promoters, 70 nt, 2 classes; shots 10-1000, test.tsv (5,920 rows)", {
        "10/train.tsv": ("2981c2c47b1981a7ebbeddd679c4132ecfd9a7594a8afe32f363b113c0dcd881", 9199),
        "50/train.tsv": ("a95733e59e3ca76d82464f6fae4373d6bc80e424090b2bc15ab5c0d1bb038c8a", 45919),
        "100/train.tsv": ("740b3c1e50307a22c1a547e83c810b89f5c69ad4313ecf174903ca630811908c", 91819),
        "500/train.tsv": ("f37239f9c8eb45b1c0831b829cf6d6960e1afd29d3e489d3b8e7118c254a606b", 459019),
        "1000/train.tsv": ("6c26620fdada4f15496a221037fee09d837f6e2a21b71b2312160ce23506cf4f", 918019),
        "test.tsv": ("7a294f8b61ff5ee6756ba80e55e3c5f64d21fb94dc45b312bd9f22de4c76665c", 2705455),
    }),
    _fewshot("Splice-40", "splice sites, 40 nt, 3 classes; shot pools 10-500, full-dataset test/dev", {
        "10/train_splice40_10.tsv": ("5894d61218db3ad7bcddfaa037ea10a1fd3fafb18c2e0b5c7b1b2d5e45b5f942", 74719),
        "50/train_splice40_50.tsv": ("6f540802c6bb203d56d2f6a6aea1b538dd28a753eb782730f4cb2df5cc387ffa", 373519),
        "100/train_splice40_100.tsv": ("98f3463bf4f6e81d9771ece546d4a86bf17555191e421495514179fbcc3828dd",
                                       747019),
        "500/train_splice40_500.tsv": ("578df4e841f32b735710ea80d703aacd52f95f5171a29d408eb1274f452e691f",
                                       3735019),
        "full-dataset/test.tsv": ("496445d8c0b4b5b1e9d2c1089320d1d7ca534f999eea8cf0ed84e4310cd09053", 741015),
        "full-dataset/dev.tsv": ("1392ca9bad9b7ab42e02210f76653f5dc93ba3ff65baedd7dc8e2da81918ee80", 666915),
    }),
    _fewshot("Cohn-enh", "enhancers, 500 nt, 2 classes; shots 10-500, no test file shipped", {
        "10/train.tsv": ("6a54e65421ea963d2a6dd36e1b6bfa435106c658700e0c6c9007a1580720c8ec", 69399),
        "50/train.tsv": ("5870edee4b0664537e0fcf114223b3687cc072b613a22a5ee6f2289ced7aff88", 346919),
        "100/train.tsv": ("aebe7dad79e8295a15a6562b9af97326d9f5c90bc7553902628613c29c08ec37", 693819),
        "500/train.tsv": ("dcd898fbea46410d0578356e51571822dba2f362bb608f6260ff31c9fd79d124", 3469019),
    }),
)}
