"""Smoke test of a deployed API: GET /health, then POST /predict with a known sentence, and the model version.

`make deploy` runs it on the stack's ApiUrl after CloudFormation finishes; a failure rolls the stack back.
`python -m infra.smoke URL --model-version V` runs it by hand. The cases and their checks are the PreTraffic hook's
(infra.pre_traffic_hook), which runs them against the new version before any traffic shifts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from infra import pre_traffic_hook as cases

SENTENCE = cases.SENTENCE


@dataclass
class SmokeResult:
    """What the smoke test saw; ok only when every check passed."""

    url: str
    problems: list[str] = field(default_factory=list)
    health: Any = None
    prediction: Any = None

    @property
    def ok(self) -> bool:
        return not self.problems


def _call(url: str, payload: Any | None, timeout_s: float) -> tuple[int, Any]:
    """Status and JSON body of one request (4xx/5xx included; a body that is not JSON is returned as text)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")[:500]


def _check(url: str, expected_version: str, timeout_s: float) -> SmokeResult:
    result = SmokeResult(url)
    status, health = _call(f"{url}/health", None, timeout_s)
    result.health = health
    result.problems = cases.health_problems(status, health, expected_version)
    if not cases.health_answered(status, health):
        return result
    status, answer = _call(f"{url}/predict", {"text": SENTENCE}, timeout_s)
    result.prediction = answer
    result.problems += cases.prediction_problems(status, answer, expected_version)
    return result


def smoke_test(
    url: str, expected_version: str, *, attempts: int = 5, wait_s: float = 5.0, timeout_s: float = 30.0
) -> SmokeResult:
    """Check the API at url serves expected_version; retried a few times (a fresh API or cold start can lag)."""
    base = url.rstrip("/")
    result = SmokeResult(base, ["not tried"])
    for attempt in range(1, attempts + 1):
        try:
            result = _check(base, expected_version, timeout_s)
        except (urllib.error.URLError, OSError, ValueError) as err:
            result = SmokeResult(base, [f"cannot reach {base}: {err}"])
        if result.ok:
            return result
        if attempt < attempts:
            time.sleep(wait_s)
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI: smoke-test URL; exit 1 on failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--model-version", required=True)
    parser.add_argument("--attempts", type=int, default=5)
    args = parser.parse_args(argv)
    result = smoke_test(args.url, args.model_version, attempts=args.attempts)
    print(f"smoke test of {result.url}: {'passed' if result.ok else 'FAILED'}")
    for problem in result.problems:
        print(f"  - {problem}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
