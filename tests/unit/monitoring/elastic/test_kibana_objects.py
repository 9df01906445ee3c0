"""The Kibana saved objects are well-formed, self-consistent, and use only fields the index templates map.

No Kibana can run here, so these checks stand in for an import: every NDJSON line parses, the JSON documents that
Kibana stores as strings parse, every reference points at an object in the file (and every object's references are
used), and every field an object names exists in the index template of its data view with a type that fits how it
is used (date_histogram on a date, histogram/percentiles/avg on a number, terms on a keyword).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from monitoring.elastic import kibana_objects
from monitoring.elastic.kibana_objects import SAVED_OBJECTS_FILE

MONITORING = Path(kibana_objects.__file__).resolve().parent
NUMERIC = {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
FIELD_TYPES_FOR_AGG = {
    "date_histogram": {"date"},
    "histogram": NUMERIC,
    "percentiles": NUMERIC,
    "avg": NUMERIC,
    "sum": NUMERIC,
    "min": NUMERIC | {"date"},
    "max": NUMERIC | {"date"},
    "terms": {"keyword"},
}
"""Elasticsearch field types each aggregation may run on (as this project uses them)."""
STRING_ATTRIBUTES = {
    "index-pattern": ["fieldAttrs", "fieldFormatMap", "fields", "runtimeFieldMap", "sourceFilters"],
    "search": ["kibanaSavedObjectMeta.searchSourceJSON"],
    "visualization": ["visState", "uiStateJSON", "kibanaSavedObjectMeta.searchSourceJSON"],
    "dashboard": ["panelsJSON", "optionsJSON", "kibanaSavedObjectMeta.searchSourceJSON"],
}
"""Attributes that hold a JSON document as a string, per type."""


def lines() -> list[str]:
    return SAVED_OBJECTS_FILE.read_text().splitlines()


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines()]


def by_key() -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["type"], o["id"]): o for o in objects()}


def attribute(obj: dict[str, Any], dotted: str) -> Any:
    value = obj["attributes"]
    for part in dotted.split("."):
        value = value[part]
    return value


def embedded(obj: dict[str, Any], dotted: str) -> Any:
    return json.loads(attribute(obj, dotted))


def templates() -> dict[str, dict[str, str]]:
    """Index pattern -> {field: Elasticsearch type} of every index template under monitoring/."""
    found = {}
    for path in MONITORING.glob("index_template*.json"):
        template = json.loads(path.read_text())
        properties = template["template"]["mappings"]["properties"]
        fields = {name: spec.get("type", "object") for name, spec in properties.items()}
        for name, spec in properties.items():
            for sub, sub_spec in spec.get("fields", {}).items():
                fields[f"{name}.{sub}"] = sub_spec["type"]
        for pattern in template["index_patterns"]:
            found[pattern] = fields
    return found


def mapping_of(obj: dict[str, Any]) -> dict[str, str]:
    """The field types of the index template behind the data view an object reads."""
    [view] = [r["id"] for r in obj["references"] if r["type"] == "index-pattern"]
    pattern = by_key()[("index-pattern", view)]["attributes"]["title"]
    return templates()[pattern]


def kql_fields(query: str) -> list[str]:
    """Field names of a simple KQL query (`field : value`, `field < 0.6`)."""
    return re.findall(r"([A-Za-z_@][\w.@]*)\s*(?:<=|>=|<|>|:)", query)


def field_problems(obj: dict[str, Any], mapping: dict[str, str]) -> list[str]:
    """Every field the object names that the mapping lacks or has with a type the use does not fit."""
    problems = []

    def need(field: str, allowed: set[str] | None, use: str) -> None:
        if field not in mapping:
            problems.append(f"{obj['id']}: {use} uses {field!r}, which the index template does not map")
        elif allowed is not None and mapping[field] not in allowed:
            problems.append(f"{obj['id']}: {use} needs {sorted(allowed)} but {field!r} is {mapping[field]}")

    if obj["type"] == "search":
        for column in obj["attributes"]["columns"]:
            need(column, None, "column")
        for field, _ in obj["attributes"]["sort"]:
            need(field, {"date"} | NUMERIC | {"keyword"}, "sort")
    if obj["type"] in ("search", "visualization"):
        query = embedded(obj, "kibanaSavedObjectMeta.searchSourceJSON")["query"]["query"]
        for field in kql_fields(query):
            need(field, None, "query")
    if obj["type"] == "visualization":
        for agg in embedded(obj, "visState")["aggs"]:
            if "field" in agg["params"]:
                need(agg["params"]["field"], FIELD_TYPES_FOR_AGG.get(agg["type"], set()), agg["type"])
    if obj["type"] == "index-pattern":
        need(obj["attributes"]["timeFieldName"], {"date"}, "time field")
        for field, spec in embedded(obj, "fieldFormatMap").items():
            need(field, NUMERIC if spec["id"] == "number" else None, "field format")
    return problems


def test_committed_file_is_what_the_module_generates() -> None:
    assert SAVED_OBJECTS_FILE.read_text() == kibana_objects.render(), "run python -m monitoring.elastic.kibana_objects"


def test_every_line_is_one_saved_object() -> None:
    assert len(lines()) >= 8
    for line in lines():
        obj = json.loads(line)
        assert set(obj) >= {"id", "type", "attributes", "references", "coreMigrationVersion", "typeMigrationVersion"}
        assert obj["type"] in STRING_ATTRIBUTES
        assert obj["attributes"]["title"]


def test_ids_are_unique() -> None:
    keys = [(o["type"], o["id"]) for o in objects()]
    assert len(keys) == len(set(keys))


def test_migration_versions_are_ones_kibana_8_15_knows() -> None:
    def version(text: str) -> tuple[int, ...]:
        return tuple(int(part) for part in text.split("."))

    for obj in objects():
        assert version(obj["coreMigrationVersion"]) <= (8, 15, 0)
        assert version(obj["typeMigrationVersion"]) <= (8, 15, 0), obj["id"]


@pytest.mark.parametrize("obj", objects(), ids=lambda o: o["id"])
def test_embedded_json_strings_parse(obj: dict[str, Any]) -> None:
    for dotted in STRING_ATTRIBUTES[obj["type"]]:
        embedded(obj, dotted)


def test_every_reference_points_at_an_object_in_the_file() -> None:
    known = set(by_key())
    for obj in objects():
        names = [r["name"] for r in obj["references"]]
        assert len(names) == len(set(names)), obj["id"]
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in known, f"{obj['id']} references missing {ref}"


def test_every_reference_is_used_by_the_object_that_declares_it() -> None:
    for obj in objects():
        used = set()
        if "kibanaSavedObjectMeta" in obj["attributes"]:
            source = embedded(obj, "kibanaSavedObjectMeta.searchSourceJSON")
            used |= {source["indexRefName"]} if "indexRefName" in source else set()
        if obj["type"] == "dashboard":
            for panel in embedded(obj, "panelsJSON"):
                name = f"{panel['panelIndex']}:{panel['panelRefName']}"
                [ref] = [r for r in obj["references"] if r["name"] == name]
                assert ref["type"] == panel["type"]
                used.add(name)
        assert used == {r["name"] for r in obj["references"]}, obj["id"]


def test_data_views_match_an_index_template_and_every_field_fits_its_use() -> None:
    problems = []
    for obj in objects():
        if obj["type"] == "index-pattern":
            assert obj["attributes"]["title"] in templates(), "a data view without an index template"
            problems += field_problems(obj, templates()[obj["attributes"]["title"]])
        elif obj["type"] != "dashboard":
            problems += field_problems(obj, mapping_of(obj))
    assert problems == []


def test_the_field_check_catches_a_wrong_field_or_type() -> None:
    [latency] = [o for o in objects() if o["id"] == "cola-latency-percentiles"]
    state = embedded(latency, "visState")
    state["aggs"][0]["params"]["field"] = "label"
    state["aggs"][1]["params"]["field"] = "latency"
    broken = {**latency, "attributes": {**latency["attributes"], "visState": json.dumps(state)}}
    problems = field_problems(broken, mapping_of(latency))
    assert len(problems) == 2
    assert "percentiles needs" in problems[0]
    assert "'label' is keyword" in problems[0]
    assert "does not map" in problems[1]


def aggs_of(object_id: str) -> dict[str, dict[str, Any]]:
    """Aggregation type -> params of a visualization."""
    return {agg["type"]: agg["params"] for agg in embedded(by_key()[("visualization", object_id)], "visState")["aggs"]}


def test_dashboard_shows_what_monitoring_needs() -> None:
    dashboard = by_key()[("dashboard", "cola-monitoring")]
    on_dashboard = {(r["type"], r["id"]) for r in dashboard["references"]}

    def panel_with(check: Any) -> bool:
        return any(kind == "visualization" and check(aggs_of(vid)) for kind, vid in on_dashboard)

    assert panel_with(
        lambda a: (
            a.get("date_histogram", {}).get("field") == "@timestamp" and a.get("terms", {}).get("field") == "label"
        )
    )
    assert panel_with(lambda a: a.get("histogram", {}).get("field") == "score")
    assert panel_with(lambda a: a.get("percentiles", {}).get("field") == "latency_ms")
    assert aggs_of("cola-latency-percentiles")["percentiles"]["percents"] == [50, 95, 99]
    assert panel_with(lambda a: a.get("terms", {}).get("field") == "model_version")
    searches = [by_key()[key] for key in on_dashboard if key[0] == "search"]
    queries = [embedded(s, "kibanaSavedObjectMeta.searchSourceJSON")["query"]["query"] for s in searches]
    assert "score < 0.6" in queries


def test_dashboard_panels_fit_the_grid_without_overlapping() -> None:
    panels = embedded(by_key()[("dashboard", "cola-monitoring")], "panelsJSON")
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridData"]
        assert grid["i"] == panel["panelIndex"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 48
        area = {
            (x, y) for x in range(grid["x"], grid["x"] + grid["w"]) for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & area, panel["panelIndex"]
        cells |= area


def test_saved_searches_sort_newest_first_on_the_time_field() -> None:
    for obj in objects():
        if obj["type"] == "search":
            view = mapping_of(obj)
            assert obj["attributes"]["sort"] == [["@timestamp", "desc"]]
            assert view["@timestamp"] == "date"
