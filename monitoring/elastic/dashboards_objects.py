"""The monitoring dashboard for OpenSearch Dashboards, written to monitoring/elastic/dashboards/saved_objects.ndjson.

The same index patterns, searches, visualizations and dashboard as the Kibana objects (kibana_objects.py is the
source; this module rewrites each object into the format OpenSearch Dashboards 2.x/3.x imports). Dashboards forked
from Kibana 7.10.2, so its saved objects are that era's: a `migrationVersion` map instead of Kibana 8's
coreMigrationVersion/typeMigrationVersion/managed, only the attributes its saved-object mappings know (Kibana 8
added data view names, runtime fields, field attributes and Discover grid settings that Dashboards does not have;
its mappings are strict, so an unknown attribute fails the import), dashboard panels without a type and with
references named panel_0, panel_1, ... . The aggregation-based visualizations (visState) and DQL ("kuery") queries
are the same in both.

    python -m monitoring.elastic.dashboards_objects          # rewrite the NDJSON file
    python -m monitoring.elastic.dashboards_objects --check  # exit 1 when the committed file differs

`make dashboards-import` sends it to Dashboards' import API (monitoring/elastic/kibana_import.py --dashboards).
Dashboards cannot run here: tests/unit/monitoring/elastic/test_dashboards_objects.py checks the file against
Dashboards' documented saved-object format (attribute sets, migration versions, references), not an import.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

from monitoring.elastic.kibana_objects import SavedObject, saved_objects

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
SAVED_OBJECTS_FILE = DASHBOARDS_DIR / "saved_objects.ndjson"
MIGRATION_VERSION = {"index-pattern": "7.6.0", "search": "7.9.3", "visualization": "7.10.0", "dashboard": "7.9.3"}
"""The latest migration of each type in OpenSearch Dashboards (inherited from Kibana 7.10): objects at these
versions import without a migration, and none is newer than Dashboards knows (which it would refuse)."""
ATTRIBUTES = {
    "index-pattern": {"title", "timeFieldName", "fields", "fieldFormatMap", "sourceFilters"},
    "search": {"title", "description", "hits", "columns", "sort", "version", "kibanaSavedObjectMeta"},
    "visualization": {"title", "description", "visState", "uiStateJSON", "version", "kibanaSavedObjectMeta"},
    "dashboard": {
        "title",
        "description",
        "hits",
        "panelsJSON",
        "optionsJSON",
        "version",
        "timeRestore",
        "timeTo",
        "timeFrom",
        "refreshInterval",
        "kibanaSavedObjectMeta",
    },
}
"""Attributes each type keeps: the properties of its saved-object mapping in OpenSearch Dashboards."""
DASHBOARDS_VERSION = "7.10.2"  # the version string Dashboards writes into panels (its Kibana lineage)


def _dashboard_panels(obj: SavedObject) -> SavedObject:
    """Panels as Dashboards stores them: no type, references panel_<n> (0-based), an empty embeddableConfig."""
    panels = json.loads(obj["attributes"]["panelsJSON"])
    renamed: dict[str, str] = {}
    for n, panel in enumerate(panels):
        old = f"{panel['panelIndex']}:{panel['panelRefName']}"
        panel.pop("type", None)
        panel["panelRefName"] = renamed[old] = f"panel_{n}"
        panel["embeddableConfig"] = {}
        panel["version"] = DASHBOARDS_VERSION
    obj["attributes"]["panelsJSON"] = json.dumps(panels, separators=(",", ":"))
    options = json.loads(obj["attributes"]["optionsJSON"])  # Kibana 8's sync* options do not exist in Dashboards
    kept = {k: options[k] for k in ("useMargins", "hidePanelTitles") if k in options}
    obj["attributes"]["optionsJSON"] = json.dumps(kept, separators=(",", ":"))
    obj["references"] = [{**ref, "name": renamed.get(ref["name"], ref["name"])} for ref in obj["references"]]
    return obj


def dashboards_object(kibana_object: SavedObject) -> SavedObject:
    """One Kibana 8 saved object in OpenSearch Dashboards' format."""
    obj = copy.deepcopy(kibana_object)
    kind = obj["type"]
    attributes = {k: v for k, v in obj["attributes"].items() if k in ATTRIBUTES[kind]}
    if kind in ("search", "dashboard"):
        attributes.setdefault("hits", 0)
        attributes.setdefault("version", 1)
    result: SavedObject = {
        "attributes": attributes,
        "id": obj["id"],
        "migrationVersion": {kind: MIGRATION_VERSION[kind]},
        "references": obj["references"],
        "type": kind,
    }
    return _dashboard_panels(result) if kind == "dashboard" else result


def dashboards_objects() -> list[SavedObject]:
    """Every object, each after those it references."""
    return [dashboards_object(obj) for obj in saved_objects()]


def render() -> str:
    """The NDJSON text: one object per line, keys sorted."""
    return "".join(
        json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
        for obj in dashboards_objects()
    )


def main(argv: list[str] | None = None) -> int:
    """Write the file, or with --check report whether the committed one is current."""
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.elastic.dashboards_objects", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs from the generated text")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not SAVED_OBJECTS_FILE.exists() or SAVED_OBJECTS_FILE.read_text() != text:
            print(
                f"{SAVED_OBJECTS_FILE} is out of date: run python -m monitoring.elastic.dashboards_objects",
                file=sys.stderr,
            )
            return 1
        return 0
    DASHBOARDS_DIR.mkdir(parents=True, exist_ok=True)
    SAVED_OBJECTS_FILE.write_text(text)
    print(f"wrote {SAVED_OBJECTS_FILE} ({text.count(chr(10))} objects)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
