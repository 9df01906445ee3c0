"""The OpenSearch Dashboards saved objects follow Dashboards' documented saved-object format.

OpenSearch Dashboards cannot run here (no package of it is reachable), so the file is not imported into a real
one: these tests check it against the format Dashboards' import API documents and its saved-object types define
(Dashboards forked from Kibana 7.10.2): each line a JSON object with attributes, id, migrationVersion, references
and type; the attributes of each type within the properties its strict mapping knows; migration versions no newer
than Dashboards' own (it refuses newer documents); the JSON strings inside attributes valid JSON; every reference
resolving to an object of the file and every panelRefName/indexRefName to a reference. The visualizations are the
Kibana ones (their fields are checked against the index templates in test_kibana_objects.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitoring.elastic import dashboards_objects
from monitoring.elastic.dashboards_objects import ATTRIBUTES, MIGRATION_VERSION, SAVED_OBJECTS_FILE
from monitoring.elastic.kibana_objects import saved_objects

DASHBOARDS_LATEST = (7, 10, 2)
JSON_STRINGS = {"visState", "uiStateJSON", "panelsJSON", "optionsJSON", "fieldFormatMap", "fields", "sourceFilters"}


def objects() -> list[dict[str, Any]]:
    return [json.loads(line) for line in SAVED_OBJECTS_FILE.read_text().splitlines()]


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_committed_file_is_the_generated_one() -> None:
    assert dashboards_objects.main(["--check"]) == 0


def test_the_same_objects_as_for_kibana() -> None:
    assert [(o["type"], o["id"]) for o in objects()] == [(o["type"], o["id"]) for o in saved_objects()]


@pytest.mark.parametrize("obj", objects(), ids=lambda o: o["id"])
class TestEachObject:
    def test_has_the_top_level_fields_of_a_dashboards_export(self, obj: dict[str, Any]) -> None:
        assert set(obj) == {"attributes", "id", "migrationVersion", "references", "type"}
        assert obj["type"] in ATTRIBUTES

    def test_attributes_are_known_to_the_types_mapping(self, obj: dict[str, Any]) -> None:
        assert set(obj["attributes"]) <= ATTRIBUTES[obj["type"]]
        assert obj["attributes"]["title"]

    def test_no_migration_newer_than_dashboards(self, obj: dict[str, Any]) -> None:
        assert obj["migrationVersion"] == {obj["type"]: MIGRATION_VERSION[obj["type"]]}
        assert version(obj["migrationVersion"][obj["type"]]) <= DASHBOARDS_LATEST

    def test_json_strings_parse(self, obj: dict[str, Any]) -> None:
        for name in JSON_STRINGS & set(obj["attributes"]):
            json.loads(obj["attributes"][name])
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta is not None:
            assert set(meta) == {"searchSourceJSON"}
            json.loads(meta["searchSourceJSON"])

    def test_every_reference_resolves_and_is_used(self, obj: dict[str, Any]) -> None:
        ids = {(o["type"], o["id"]) for o in objects()}
        names = set()
        for ref in obj["references"]:
            assert (ref["type"], ref["id"]) in ids
            names.add(ref["name"])
        wanted = set()
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta is not None and "indexRefName" in json.loads(meta["searchSourceJSON"]):
            wanted.add(json.loads(meta["searchSourceJSON"])["indexRefName"])
        if obj["type"] == "dashboard":
            wanted |= {panel["panelRefName"] for panel in json.loads(obj["attributes"]["panelsJSON"])}
        assert names == wanted


def test_dashboard_panels_have_dashboards_shape() -> None:
    [dashboard] = [o for o in objects() if o["type"] == "dashboard"]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    for n, panel in enumerate(panels):
        assert set(panel) == {"embeddableConfig", "gridData", "panelIndex", "panelRefName", "version"}
        assert panel["panelRefName"] == f"panel_{n}"
        assert set(panel["gridData"]) == {"x", "y", "w", "h", "i"}
        assert panel["gridData"]["x"] + panel["gridData"]["w"] <= 48  # Dashboards' grid has 48 columns
    assert set(json.loads(dashboard["attributes"]["optionsJSON"])) == {"useMargins", "hidePanelTitles"}


def test_queries_are_dql_which_dashboards_speaks() -> None:
    for obj in objects():
        meta = obj["attributes"].get("kibanaSavedObjectMeta")
        if meta is not None and "query" in json.loads(meta["searchSourceJSON"]):
            assert json.loads(meta["searchSourceJSON"])["query"]["language"] == "kuery"
