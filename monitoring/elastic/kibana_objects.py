"""The Kibana saved objects of the monitoring dashboard, written to monitoring/elastic/kibana/saved_objects.ndjson.

The NDJSON file is what `make kibana-import` sends to Kibana; this module is its source, because saved objects
embed JSON documents as strings (visState, searchSourceJSON, panelsJSON) that are easy to break by hand. A test keeps
the committed file equal to this module's output and checks every field against the index templates.

    python -m monitoring.elastic.kibana_objects          # rewrite the NDJSON file
    python -m monitoring.elastic.kibana_objects --check  # exit 1 when the committed file differs

Target: Kibana 8.15 (any 8.x from 8.9 imports them; Kibana migrates older documents forward, never backward).
Visualizations are aggregation-based `visualization` objects, not Lens: their visState names each aggregation and
field explicitly (so the tests can check every field and its type against the mappings), the format is small and
stable across 8.x, and Kibana 8 still renders and edits them (XY charts open in Lens with "Convert to Lens"). Lens
documents carry layer and column ids, per-layer references and editor state that only round-trip reliably when
exported from a running Kibana, which this project's tests cannot start. Each object's typeMigrationVersion is the
version Kibana 8 exports for that type and this format (index-pattern and search 8.0.0, visualization 8.5.0,
dashboard 8.9.0): Kibana runs no older migration on import, and any later one of its own version.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

KIBANA_DIR = Path(__file__).resolve().parent / "kibana"
SAVED_OBJECTS_FILE = KIBANA_DIR / "saved_objects.ndjson"
CORE_MIGRATION_VERSION = "8.8.0"
TYPE_MIGRATION_VERSION = {"index-pattern": "8.0.0", "search": "8.0.0", "visualization": "8.5.0", "dashboard": "8.9.0"}

PREDICTIONS_VIEW = "cola-predictions"
APP_LOGS_VIEW = "cola-app-logs"
LOW_CONFIDENCE = 0.6
"""Predictions whose score (the probability of the predicted label) is below this are listed for review."""
PREDICTION_COLUMNS = [
    "label",
    "score",
    "p_acceptable",
    "model_version",
    "latency_ms",
    "n_tokens",
    "truncated",
    "request_id",
]
ERROR_COLUMNS = ["code", "message", "request_id", "log_stream"]
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
SavedObject = dict[str, Any]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _search_source(query: str = "") -> dict[str, str]:
    return {
        "searchSourceJSON": _json(
            {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
        )
    }


def _saved_object(
    kind: str, object_id: str, attributes: dict[str, Any], references: list[dict[str, str]]
) -> SavedObject:
    return {
        "attributes": attributes,
        "coreMigrationVersion": CORE_MIGRATION_VERSION,
        "id": object_id,
        "managed": False,
        "references": references,
        "type": kind,
        "typeMigrationVersion": TYPE_MIGRATION_VERSION[kind],
    }


def _index_ref(view: str) -> list[dict[str, str]]:
    return [{"id": view, "name": INDEX_REF, "type": "index-pattern"}]


def data_view(object_id: str, pattern: str, name: str, formats: dict[str, str] | None = None) -> SavedObject:
    """A data view (index-pattern) on `pattern` with @timestamp as its time field; `formats`: field -> number format."""
    format_map = {field: {"id": "number", "params": {"pattern": p}} for field, p in (formats or {}).items()}
    attributes = {
        "fieldAttrs": "{}",
        "fieldFormatMap": _json(format_map),
        "fields": "[]",  # Kibana reads the fields from Elasticsearch's mappings
        "name": name,
        "runtimeFieldMap": "{}",
        "sourceFilters": "[]",
        "timeFieldName": "@timestamp",
        "title": pattern,
    }
    return _saved_object("index-pattern", object_id, attributes, [])


def saved_search(
    object_id: str, title: str, description: str, view: str, columns: list[str], query: str = ""
) -> SavedObject:
    """A Discover search on `view`, newest first, showing `columns`."""
    attributes = {
        "columns": columns,
        "description": description,
        "grid": {},
        "hideChart": False,
        "isTextBasedQuery": False,
        "kibanaSavedObjectMeta": _search_source(query),
        "sort": [["@timestamp", "desc"]],
        "title": title,
    }
    return _saved_object("search", object_id, attributes, _index_ref(view))


def _agg(agg_id: str, kind: str, schema: str, **params: Any) -> dict[str, Any]:
    return {"id": agg_id, "enabled": True, "type": kind, "params": params, "schema": schema}


def _count(agg_id: str = "1", label: str = "Predictions") -> dict[str, Any]:
    return _agg(agg_id, "count", "metric", emptyAsNull=False, customLabel=label)


def _over_time(agg_id: str = "2") -> dict[str, Any]:
    return _agg(
        agg_id,
        "date_histogram",
        "segment",
        field="@timestamp",
        useNormalizedEsInterval=True,
        scaleMetricValues=False,
        interval="auto",
        drop_partials=False,
        min_doc_count=1,
        extended_bounds={},
    )


def _terms(agg_id: str, field: str, schema: str, size: int, label: str, order_by: str = "1") -> dict[str, Any]:
    return _agg(
        agg_id,
        "terms",
        schema,
        field=field,
        orderBy=order_by,
        order="desc",
        size=size,
        otherBucket=False,
        otherBucketLabel="Other",
        missingBucket=False,
        missingBucketLabel="Missing",
        customLabel=label,
    )


def _xy_params(chart: str, mode: str, y_title: str, series_label: str) -> dict[str, Any]:
    """Params of an aggregation-based XY chart (`histogram` = vertical bars, or `line`) with one value axis."""
    return {
        "type": chart,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": "bottom",
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": True, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": "LeftAxis-1",
                "type": "value",
                "position": "left",
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": y_title},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": chart,
                "mode": mode,
                "data": {"label": series_label, "id": "1"},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "interpolate": "linear",
                "showCircles": True,
            }
        ],
        "addTooltip": True,
        "detailedTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
        "palette": {"type": "palette", "name": "default"},
        "isVislibVis": True,
        **({"fittingFunction": "linear"} if chart == "line" else {}),
    }


def visualization(
    object_id: str, title: str, description: str, vis_type: str, aggs: list[dict[str, Any]], params: dict[str, Any]
) -> SavedObject:
    """An aggregation-based visualization on the predictions data view."""
    attributes = {
        "description": description,
        "kibanaSavedObjectMeta": _search_source(),
        "title": title,
        "uiStateJSON": "{}",
        "version": 1,
        "visState": _json({"title": title, "type": vis_type, "aggs": aggs, "params": params}),
    }
    return _saved_object("visualization", object_id, attributes, _index_ref(PREDICTIONS_VIEW))


def visualizations() -> list[SavedObject]:
    """Predictions over time by label, score histogram, latency percentiles, model versions."""
    return [
        visualization(
            "cola-predictions-by-label",
            "Predictions over time by label",
            "Predictions per time bucket, stacked by predicted label.",
            "histogram",
            [_count(), _over_time(), _terms("3", "label", "group", 5, "Label")],
            _xy_params("histogram", "stacked", "Predictions", "Predictions"),
        ),
        visualization(
            "cola-score-histogram",
            "Score distribution",
            "Probability of the predicted label (0.5 to 1), by label. Mass near 0.5 means the model is unsure.",
            "histogram",
            [
                _count(),
                _agg(
                    "2",
                    "histogram",
                    "segment",
                    field="score",
                    interval=0.025,
                    min_doc_count=False,
                    has_extended_bounds=True,
                    extended_bounds={"min": 0.5, "max": 1},
                    autoExtendBounds=False,
                    customLabel="Score",
                ),
                _terms("3", "label", "group", 5, "Label"),
            ],
            _xy_params("histogram", "stacked", "Predictions", "Predictions"),
        ),
        visualization(
            "cola-latency-percentiles",
            "Latency percentiles (ms)",
            "p50, p95 and p99 of latency_ms: server time of the whole request.",
            "line",
            [
                _agg("1", "percentiles", "metric", field="latency_ms", percents=[50, 95, 99], customLabel="Latency"),
                _over_time(),
            ],
            _xy_params("line", "normal", "Latency (ms)", "Latency"),
        ),
        visualization(
            "cola-model-versions",
            "Model versions",
            "Predictions, mean score and first/last prediction time per served model version.",
            "table",
            [
                _count(),
                _terms("2", "model_version", "bucket", 20, "Model version"),
                _agg("3", "avg", "metric", field="score", customLabel="Mean score"),
                _agg("4", "min", "metric", field="@timestamp", customLabel="First seen"),
                _agg("5", "max", "metric", field="@timestamp", customLabel="Last seen"),
            ],
            {
                "perPage": 10,
                "showPartialRows": False,
                "showMetricsAtAllLevels": False,
                "showTotal": False,
                "totalFunc": "sum",
                "percentageCol": "",
                "showToolbar": False,
                "autoFitRowToContent": False,
            },
        ),
    ]


def dashboard(object_id: str, title: str, panels: list[tuple[str, str, int, int, int, int]]) -> SavedObject:
    """A dashboard of (type, id, x, y, w, h) panels on Kibana's 48-column grid: last 24 h, refreshed each minute."""
    panel_docs, references = [], []
    for number, (kind, target, x, y, w, h) in enumerate(panels, start=1):
        index = str(number)
        panel_docs.append(
            {
                "type": kind,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": index},
                "panelIndex": index,
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{index}",
            }
        )
        references.append({"id": target, "name": f"{index}:panel_{index}", "type": kind})
    attributes = {
        "description": "CoLA acceptability API: what it predicts, how sure it is, how fast, with which model.",
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": _json({"query": {"query": "", "language": "kuery"}, "filter": []})
        },
        "optionsJSON": _json(
            {
                "useMargins": True,
                "syncColors": False,
                "syncCursor": True,
                "syncTooltips": False,
                "hidePanelTitles": False,
            }
        ),
        "panelsJSON": _json(panel_docs),
        "refreshInterval": {"pause": False, "value": 60000},
        "timeFrom": "now-24h",
        "timeRestore": True,
        "timeTo": "now",
        "title": title,
        "version": 1,
    }
    return _saved_object("dashboard", object_id, attributes, references)


def saved_objects() -> list[SavedObject]:
    """Every object, each after the objects it references (the order Kibana's export uses)."""
    number_formats = {"score": "0.000", "p_acceptable": "0.000", "latency_ms": "0,0.0", "inference_ms": "0,0.0"}
    return [
        data_view(PREDICTIONS_VIEW, "predictions-*", "CoLA predictions", number_formats),
        data_view(APP_LOGS_VIEW, "app-logs-*", "CoLA API logs"),
        saved_search(
            "cola-recent-predictions",
            "Recent predictions",
            "Newest predictions first.",
            PREDICTIONS_VIEW,
            PREDICTION_COLUMNS,
        ),
        saved_search(
            "cola-low-confidence",
            f"Low-confidence predictions (score < {LOW_CONFIDENCE})",
            "Predictions the model was least sure about: candidates for review and labelling.",
            PREDICTIONS_VIEW,
            PREDICTION_COLUMNS,
            query=f"score < {LOW_CONFIDENCE}",
        ),
        saved_search(
            "cola-api-errors",
            "API errors",
            "Error lines of the API function (bugs and server-side conditions, never client errors).",
            APP_LOGS_VIEW,
            ERROR_COLUMNS,
            query='record_kind : "error"',
        ),
        *visualizations(),
        dashboard(
            "cola-monitoring",
            "CoLA acceptability: prediction monitoring",
            [
                ("visualization", "cola-predictions-by-label", 0, 0, 24, 15),
                ("visualization", "cola-latency-percentiles", 24, 0, 24, 15),
                ("visualization", "cola-score-histogram", 0, 15, 24, 15),
                ("visualization", "cola-model-versions", 24, 15, 24, 15),
                ("search", "cola-low-confidence", 0, 30, 48, 15),
                ("search", "cola-api-errors", 0, 45, 48, 12),
            ],
        ),
    ]


def render() -> str:
    """The NDJSON text: one object per line, keys sorted as Kibana exports them."""
    return "".join(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n" for obj in saved_objects()
    )


def main(argv: list[str] | None = None) -> int:
    """Write the file, or with --check report whether the committed one is current."""
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.elastic.kibana_objects", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the generated text")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = SAVED_OBJECTS_FILE.read_text() if SAVED_OBJECTS_FILE.exists() else ""
        if current != text:
            print(
                f"{SAVED_OBJECTS_FILE} is out of date: run python -m monitoring.elastic.kibana_objects", file=sys.stderr
            )
            return 1
        return 0
    KIBANA_DIR.mkdir(parents=True, exist_ok=True)
    SAVED_OBJECTS_FILE.write_text(text)
    print(f"wrote {SAVED_OBJECTS_FILE} ({text.count(chr(10))} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
