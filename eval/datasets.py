"""Named datasets for the harness: `sample`, `homedepot`, `nfcorpus`, or any BEIR folder path.

Each name resolves to a folder and to its labelling convention (how scores become
graded gains and where binary relevance starts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tinyseek.eval.beir import LabelledSet, load_beir
from tinyseek.resources import sample_data_dir

DATA_ENV = "TINYSEEK_DATA"
"""A folder holding the named datasets (homedepot/, nfcorpus/)."""
HOMEDEPOT_ENV = "TINYSEEK_HOMEDEPOT"
"""The Home Depot folder itself (wins over $TINYSEEK_DATA)."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where a labelled set lives and how its scores are read."""

    name: str
    root: Path
    split: str
    gain_offset: float
    relevance_threshold: float
    """Binary relevance: score - gain_offset >= relevance_threshold."""

    def load(self) -> LabelledSet:
        labelled = load_beir(
            self.root,
            split=self.split,
            gain_offset=self.gain_offset,
            relevance_threshold=self.relevance_threshold,
        )
        return LabelledSet(
            self.name, labelled.corpus_path, labelled.queries, labelled.relevance_threshold
        )


def data_root() -> Path:
    """Where named datasets live: $TINYSEEK_DATA, else ../shared/data from the current
    directory (a checkout beside the shared data)."""
    env = os.environ.get(DATA_ENV)
    return Path(env).expanduser() if env else Path("..") / "shared" / "data"


def homedepot_root() -> Path:
    env = os.environ.get(HOMEDEPOT_ENV)
    return Path(env).expanduser() if env else data_root() / "homedepot"


# name -> (default split, gain offset, relevance threshold on the gain)
NAMED = {
    "homedepot": ("dev", 1.0, 1.5),  # scores 1-3: gain = score - 1, relevant = score >= 2.5
    "nfcorpus": ("dev", 0.0, 1.0),  # grades 0-2 (0 never listed): relevant = every judged doc
}


def named_root(name: str) -> Path:
    return homedepot_root() if name == "homedepot" else data_root() / name


def resolve_dataset(
    dataset: str,
    split: str | None = None,
    gain_offset: float | None = None,
    relevance_threshold: float | None = None,
) -> DatasetSpec:
    """`sample` (the packaged sample data, split test, grades 0-2, relevant >= 1),
    `homedepot` (split dev, gain = score - 1, relevant = score >= 2.5), `nfcorpus` (BEIR
    NFCorpus, split dev, gain = score, relevant >= 1), or a BEIR folder (split test, gain =
    score, relevant >= 1). Explicit arguments override the convention.
    """
    if dataset == "sample":
        name, root, defaults = "sample", sample_data_dir(), ("test", 0.0, 1.0)
    elif dataset in NAMED:
        name, root, defaults = dataset, named_root(dataset), NAMED[dataset]
        if not root.is_dir():
            raise FileNotFoundError(
                f"{dataset} data not found at {root}; set ${DATA_ENV} to the folder that "
                f"holds {dataset}/"
                + (f" (or ${HOMEDEPOT_ENV} to the folder itself)" if dataset == "homedepot" else "")
            )
    else:
        root = Path(dataset).expanduser()
        if not root.is_dir():
            valid = ", ".join(["sample", *NAMED])
            raise FileNotFoundError(
                f"dataset {dataset!r} is neither one of {valid} nor a BEIR folder"
            )
        name, defaults = root.resolve().name, ("test", 0.0, 1.0)
    return DatasetSpec(
        name=name,
        root=root,
        split=split or defaults[0],
        gain_offset=defaults[1] if gain_offset is None else gain_offset,
        relevance_threshold=defaults[2] if relevance_threshold is None else relevance_threshold,
    )
