"""The index templates of the shipper's three index families, generated from chalicelib.contract.index_fields.

The committed JSON files under monitoring/ are this module's output for the default prefixes (a test keeps them
equal, so the log schema, the shipper and the templates cannot drift apart); `make es-setup` installs them.

    python -m monitoring.elastic.index_templates          # rewrite the JSON files
    python -m monitoring.elastic.index_templates --check  # exit 1 when a committed file differs from its generation

Mappings are `dynamic: strict`: the shipper writes exactly the fields listed in index_fields, so a field the
template does not know means the schema and the template have drifted apart; strict makes Elasticsearch refuse
that document (the shipper logs the reason and fails the batch, which ends in the dead-letter destination) instead
of `false`, which would store it with the new field silently unsearchable, or `true`, which would guess its type.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

from chalice_app.chalicelib.contract.index_fields import (
    APP_LOG_FIELDS,
    PLATFORM_FIELDS,
    SHIPPER_FIELDS,
    prediction_json_types,
)
from chalice_app.chalicelib.contract.log_line import LOG_SCHEMA_VERSION
from chalice_app.chalicelib.shipper.settings import (
    DEFAULT_INDEX_PREFIX,
    DEFAULT_LOGS_INDEX_PREFIX,
    DEFAULT_PLATFORM_INDEX_PREFIX,
)

MONITORING_DIR = Path(__file__).resolve().parent
ILM_POLICY_FILE = MONITORING_DIR / "ilm_policy.json"
ILM_POLICY_NAME = "cola-logs-retention"
ISM_POLICY_ID = ILM_POLICY_NAME
ISM_TEMPLATE_PRIORITY = 100
"""OpenSearch attaches the policy to each new index matching its ism_template (the highest priority wins)."""
KEYWORD_IGNORE_ABOVE = 1024
"""Longer keyword values stay in _source but are not indexed (instead of failing the document)."""
PRIORITY = 200
"""Above Elasticsearch's built-in templates (priority 100), which match other patterns anyway."""

FAMILIES: dict[str, dict[str, str]] = {
    "predictions": {
        "name": "cola-predictions",
        "file": "index_template.json",
        "prefix": DEFAULT_INDEX_PREFIX,
        "description": "one document per prediction log line (chalicelib.contract.log_line), daily indices",
    },
    "platform": {
        "name": "cola-platform",
        "file": "index_template_platform.json",
        "prefix": DEFAULT_PLATFORM_INDEX_PREFIX,
        "description": "Lambda platform lines (START, END, REPORT with durations and memory, INIT_START, timeouts)",
    },
    "app_logs": {
        "name": "cola-app-logs",
        "file": "index_template_app_logs.json",
        "prefix": DEFAULT_LOGS_INDEX_PREFIX,
        "description": "the API's other lines: errors, diagnostic events, invalid prediction lines, raw text",
    },
}


PREDICTION_TYPE_OVERRIDES: Final[dict[str, str]] = {"timestamp": "date", "text": "text"}
"""Strings that are not keywords: the timestamp is a date, the raw text is full text (with a .keyword subfield)."""

KEYWORD_SUBFIELD_IGNORE_ABOVE: Final[dict[str, int]] = {"text": 256, "message": 1024}
"""Text fields that also get a .keyword subfield (exact match, terms), up to this many characters."""

_ES_TYPE_OF_JSON: Final = {"integer": "integer", "number": "float", "string": "keyword", "boolean": "boolean"}


def prediction_field_types() -> dict[str, str]:
    """Field -> Elasticsearch type of a prediction document (line fields, then the shipper's)."""
    types = {
        name: PREDICTION_TYPE_OVERRIDES.get(name, _ES_TYPE_OF_JSON[kind])
        for name, kind in prediction_json_types().items()
    }
    return {**types, **SHIPPER_FIELDS}


def field_types(family: str) -> dict[str, str]:
    """Field -> Elasticsearch type of a family's documents."""
    if family == "predictions":
        return prediction_field_types()
    return dict(PLATFORM_FIELDS if family == "platform" else APP_LOG_FIELDS)


def field_mapping(name: str, es_type: str) -> dict[str, Any]:
    """The mapping of one field."""
    if es_type == "keyword":
        return {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE}
    if es_type == "object":  # kept as it came, never indexed: any shape fits
        return {"type": "object", "enabled": False}
    if es_type == "text" and name in KEYWORD_SUBFIELD_IGNORE_ABOVE:
        keyword = {"type": "keyword", "ignore_above": KEYWORD_SUBFIELD_IGNORE_ABOVE[name]}
        return {"type": "text", "fields": {"keyword": keyword}}
    return {"type": es_type}


def index_template(family: str, prefix: str | None = None, lifecycle: str | None = ILM_POLICY_NAME) -> dict[str, Any]:
    """The composable index template (PUT _index_template/<name> body) of a family."""
    spec = FAMILIES[family]
    settings: dict[str, Any] = {"number_of_shards": 1}
    if lifecycle:
        settings["index.lifecycle.name"] = lifecycle
    properties = {name: field_mapping(name, es_type) for name, es_type in sorted(field_types(family).items())}
    return {
        "index_patterns": [f"{prefix or spec['prefix']}-*"],
        "priority": PRIORITY,
        "template": {
            "settings": settings,
            "mappings": {"dynamic": "strict", "date_detection": False, "properties": properties},
        },
        "_meta": {
            "description": spec["description"],
            "generated_by": "monitoring/elastic/index_templates.py from chalicelib/contract/index_fields.py",
            "log_schema": LOG_SCHEMA_VERSION,
        },
    }


def ilm_policy() -> dict[str, Any]:
    """The retention policy (PUT _ilm/policy/<ILM_POLICY_NAME> body)."""
    policy: dict[str, Any] = json.loads(ILM_POLICY_FILE.read_text())
    return policy


def retention_age() -> str:
    """How long a daily index is kept: the ILM policy's delete min_age (one value for both backends)."""
    age: str = ilm_policy()["policy"]["phases"]["delete"]["min_age"]
    return age


def ism_policy(prefixes: list[str]) -> dict[str, Any]:
    """OpenSearch's Index State Management policy (PUT _plugins/_ism/policies/<ISM_POLICY_ID> body) with the same
    retention as the ILM policy: "hot" until the index is retention_age() old, then deleted. Its ism_template
    attaches it to every new index of the shipper's families (OpenSearch has no index setting that names a policy
    in a template, unlike ILM's index.lifecycle.name)."""
    age = retention_age()
    return {
        "policy": {
            "description": f"Retention of the shipper's daily indices: deleted {age} after creation "
            "(monitoring/elastic/es_setup.py; the same age as ilm_policy.json).",
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [],
                    "transitions": [{"state_name": "delete", "conditions": {"min_index_age": age}}],
                },
                {"name": "delete", "actions": [{"delete": {}}], "transitions": []},
            ],
            "ism_template": [
                {"index_patterns": [f"{prefix}-*" for prefix in prefixes], "priority": ISM_TEMPLATE_PRIORITY}
            ],
        }
    }


def render(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only compare the committed files with the output")
    args = parser.parse_args(argv)
    stale = []
    for family, spec in FAMILIES.items():
        path = MONITORING_DIR / spec["file"]
        text = render(index_template(family))
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python -m monitoring.elastic.index_templates", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
