"""What switch_api and lookup_api share about lookups: the dataset blobs and their indexes.

- :mod:`libs.lookup.datasets` — LRN, CNAM and do-not-call datasets: the compiled blob format,
  the builder switch_api's import fills, and the immutable indexes lookup_api loads.
"""

from libs.lookup.datasets import (
    DATASET_BLOB_FORMAT,
    MAX_DIGITS,
    CnamIndex,
    DatasetBuilder,
    DatasetDecodeError,
    DatasetIndex,
    DatasetKind,
    DncIndex,
    DncMatch,
    LrnIndex,
    LrnMatch,
    dnc_key,
    load_dataset,
    sort_rows,
)

__all__ = [
    "DATASET_BLOB_FORMAT",
    "MAX_DIGITS",
    "CnamIndex",
    "DatasetBuilder",
    "DatasetDecodeError",
    "DatasetIndex",
    "DatasetKind",
    "DncIndex",
    "DncMatch",
    "LrnIndex",
    "LrnMatch",
    "dnc_key",
    "load_dataset",
    "sort_rows",
]
