"""Labels a person makes for a run's images (``book``): cluster names, single fixes, labels.csv."""

from core.labels.book import (
    ANOMALY,
    DUPLICATE,
    FILE_NAME,
    LABEL_COLUMNS,
    SOURCES,
    LabelBook,
    agreement,
    clean_label,
    cluster_only_labels,
    load,
    read_csv,
    save,
)

__all__ = ["ANOMALY", "DUPLICATE", "FILE_NAME", "LABEL_COLUMNS", "SOURCES", "LabelBook", "agreement", "clean_label",
           "cluster_only_labels", "load", "read_csv", "save"]
