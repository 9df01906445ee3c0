"""What CloudFormation makes of a template's values for given parameters: Ref, Fn::Sub (both forms), Fn::If on the
template's Conditions (Fn::Not, Fn::Equals), AWS::NoValue dropped. Enough for the IAM statements and environment
variables the generated templates make conditional; any other intrinsic function is left as it is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

NO_VALUE = object()


def resolve(node: Any, template: Mapping[str, Any], given: Mapping[str, str], pseudo: Mapping[str, str]) -> Any:
    """node with the given parameters (the others their Default) and pseudo parameters (AWS::Region, ...)."""
    values = {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}
    values |= {**pseudo, **given}
    conditions = template.get("Conditions", {})

    def condition(expression: Any) -> bool:
        if isinstance(expression, dict) and "Condition" in expression:
            return condition(conditions[expression["Condition"]])
        if "Fn::Not" in expression:
            return not condition(expression["Fn::Not"][0])
        left, right = (go(v) for v in expression["Fn::Equals"])
        return bool(left == right)

    def go(item: Any) -> Any:
        if isinstance(item, dict) and set(item) == {"Fn::Sub"}:
            text, local = (item["Fn::Sub"], {}) if isinstance(item["Fn::Sub"], str) else item["Fn::Sub"]
            names = {**values, **{k: go(v) for k, v in local.items()}}
            return re.sub(r"\$\{(?!!)([^}]+)\}", lambda m: str(names[m.group(1)]), text).replace("${!", "${")
        if isinstance(item, dict) and set(item) == {"Ref"} and (item["Ref"] in values or "::" in item["Ref"]):
            return NO_VALUE if item["Ref"] == "AWS::NoValue" else values[item["Ref"]]
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            name, yes, no = item["Fn::If"]
            return go(yes if condition(conditions[name]) else no)
        if isinstance(item, dict):
            return {k: v for k, v in ((k, go(v)) for k, v in item.items()) if v is not NO_VALUE}
        if isinstance(item, list):
            return [v for v in (go(x) for x in item) if v is not NO_VALUE]
        return item

    return go(node)
