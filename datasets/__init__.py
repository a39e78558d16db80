"""Catalogs and logs: ShopWorld, loaders for users' files and public log formats."""

from fusionrank.datasets.catalog import load_catalog, validate_catalog
from fusionrank.datasets.clara2 import (
    label_query_overlap,
    load_clara2_log,
    load_clara2_relevance,
    map_label_queries,
)
from fusionrank.datasets.errors import DataValidationError, Problems
from fusionrank.datasets.events import EventColumns, events_to_pages, pages_to_events
from fusionrank.datasets.importing import import_events
from fusionrank.datasets.logs import (
    load_logs,
    logs_to_pages,
    summarize_logs,
    validate_logs,
    write_logs,
)
from fusionrank.datasets.obd import (
    OBDImpressions,
    load_obd,
    load_obd_item_context,
    obd_catalog,
    obd_impressions,
)
from fusionrank.datasets.validation import ValidationReport, validate_files

__all__ = [
    "DataValidationError",
    "EventColumns",
    "OBDImpressions",
    "Problems",
    "ValidationReport",
    "events_to_pages",
    "import_events",
    "label_query_overlap",
    "load_catalog",
    "load_clara2_log",
    "load_clara2_relevance",
    "load_logs",
    "load_obd",
    "load_obd_item_context",
    "logs_to_pages",
    "map_label_queries",
    "obd_catalog",
    "obd_impressions",
    "pages_to_events",
    "summarize_logs",
    "validate_catalog",
    "validate_files",
    "validate_logs",
    "write_logs",
]
