"""The committed index templates map every field of the log schema with the type the schema declares, every
field the shipper adds, and nothing is left to dynamic mapping: the schema and the templates cannot drift apart."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalice_app.chalicelib.contract.index_fields import (
    APP_LOG_FIELDS,
    PLATFORM_FIELDS,
    SHIPPER_FIELDS,
    declared_type,
)
from chalice_app.chalicelib.contract.log_line import OPTIONAL_PREDICTION_FIELDS, PREDICTION_FIELDS
from monitoring.elastic import es_setup
from monitoring.elastic import index_templates as templates
from monitoring.elastic.index_templates import FAMILIES, ILM_POLICY_NAME, MONITORING_DIR

EXPECTED_TYPE = {"integer": "integer", "number": "float", "boolean": "boolean", "string": "keyword"}


def committed(family: str) -> dict[str, Any]:
    template: dict[str, Any] = json.loads((MONITORING_DIR / FAMILIES[family]["file"]).read_text())
    return template


def properties(family: str) -> dict[str, Any]:
    props: dict[str, Any] = committed(family)["template"]["mappings"]["properties"]
    return props


@pytest.mark.parametrize("field", [*PREDICTION_FIELDS, *OPTIONAL_PREDICTION_FIELDS])
def test_every_prediction_field_is_mapped_with_its_schema_type(field: str) -> None:
    description = {**PREDICTION_FIELDS, **OPTIONAL_PREDICTION_FIELDS}[field]
    mapping = properties("predictions")[field]
    if field == "timestamp":
        assert mapping == {"type": "date"}
    elif field == "text":
        assert mapping["type"] == "text"
        assert mapping["fields"]["keyword"]["type"] == "keyword"
    else:
        assert mapping["type"] == EXPECTED_TYPE[declared_type(description)]


def test_the_prediction_template_maps_the_schema_and_the_shippers_fields_and_nothing_else() -> None:
    assert set(properties("predictions")) == {*PREDICTION_FIELDS, *OPTIONAL_PREDICTION_FIELDS, *SHIPPER_FIELDS}
    assert set(properties("platform")) == set(PLATFORM_FIELDS)
    assert set(properties("app_logs")) == set(APP_LOG_FIELDS)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_templates_are_strict_and_carry_the_shippers_fields(family: str) -> None:
    template = committed(family)
    assert template["index_patterns"] == [f"{FAMILIES[family]['prefix']}-*"]
    assert template["template"]["mappings"]["dynamic"] == "strict"
    assert template["template"]["mappings"]["date_detection"] is False
    props = properties(family)
    assert props["@timestamp"] == {"type": "date"}
    assert props["ingested_at"] == {"type": "date"}
    assert all(props[name]["type"] == "keyword" for name in ("log_group", "log_stream", "event_id"))
    assert template["template"]["settings"]["index.lifecycle.name"] == ILM_POLICY_NAME


def test_the_prediction_indices_match_the_design_contract() -> None:
    assert committed("predictions")["index_patterns"] == ["predictions-*"]


def test_the_committed_files_are_what_the_generator_writes() -> None:
    assert templates.main(["--check"]) == 0
    for family in FAMILIES:
        assert committed(family) == templates.index_template(family)


def test_the_raw_line_of_app_logs_is_kept_but_not_indexed() -> None:
    assert properties("app_logs")["line"] == {"type": "object", "enabled": False}
    assert properties("app_logs")["message"]["fields"]["keyword"]["ignore_above"] == 1024


def test_the_retention_policy_deletes_after_30_days() -> None:
    policy = templates.ilm_policy()["policy"]
    assert policy["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}


def test_a_schema_description_without_a_type_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with one of"):
        declared_type("text: a free-form thing")


@pytest.mark.parametrize(
    ("status", "body", "unsupported"),
    [
        (400, {"error": "no handler found for uri [/_ilm/policy/x] and method [PUT]"}, True),  # noida-db, OpenSearch
        (404, {"error": "not found"}, True),
        (400, {"error": {"type": "x_content_parse_exception", "reason": "unknown field [phasez]"}}, False),
        (403, {"error": {"type": "security_exception"}}, False),
        (500, "no handler found", False),
    ],
)
def test_only_a_missing_ilm_api_is_skipped(status: int, body: Any, unsupported: bool) -> None:
    assert es_setup.ilm_unsupported(status, body) is unsupported


def test_the_ism_policy_has_opensearchs_documented_shape_and_the_ilm_retention() -> None:
    """OpenSearch's ISM policy format (Index State Management, "Policies"): a description, a default_state that
    names one of the states, states with name/actions/transitions, transitions naming existing states with a
    min_index_age condition, and ism_template entries with index_patterns and a priority."""
    from monitoring.elastic.index_templates import ism_policy, retention_age

    policy = ism_policy(["predictions", "platform", "app-logs"])["policy"]
    assert set(policy) == {"description", "default_state", "states", "ism_template"}
    names = [state["name"] for state in policy["states"]]
    assert policy["default_state"] in names
    for state in policy["states"]:
        assert set(state) == {"name", "actions", "transitions"}
        for transition in state["transitions"]:
            assert transition["state_name"] in names
            assert set(transition["conditions"]) == {"min_index_age"}
    hot, delete = policy["states"]
    assert hot["transitions"][0]["conditions"]["min_index_age"] == retention_age() == "30d"
    assert delete["actions"] == [{"delete": {}}]
    assert policy["ism_template"] == [
        {"index_patterns": ["predictions-*", "platform-*", "app-logs-*"], "priority": 100}
    ]
