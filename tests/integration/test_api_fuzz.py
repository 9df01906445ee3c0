"""Schemathesis against the OpenAPI document the app serves, over HTTP to a real `chalice local` (smoke bundle).

Schemathesis (pinned in requirements/dev.txt) reads GET /openapi.json and generates requests from it: examples at
the schema's boundaries (coverage phase) and random ones (fuzzing phase), valid and invalid. Checks on every answer:
no 5xx, the status code and content type are documented for the operation, JSON bodies match the documented
schema, headers match, schema-invalid requests are refused with a 4xx, schema-valid ones are accepted, and methods
a path lacks get 405. Bounded (MAX_EXAMPLES per operation, a fixed seed) so the run takes about a minute.

Two settings, each for a reason outside the app:
- TRACE and QUERY are not sent as "unexpected methods": chalice local's http.server answers them 501 itself before
  the app runs (Chalice handles only GET/POST/PUT/PATCH/DELETE/HEAD/OPTIONS); API Gateway answers 403.
- 413 counts as a refusal of invalid data: the API answers too many texts or too long a text with 413 (documented),
  which schemathesis's default list of refusal statuses lacks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.chalice_local import chalice_local

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCHEMATHESIS = Path(sys.executable).parent / "st"
MAX_EXAMPLES = 40
SEED = 20261126
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "unsupported_method",
)
CONFIG = """
[phases.coverage]
unexpected-methods = ["get", "put", "post", "delete", "options", "patch"]

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
"""


@pytest.fixture(scope="module")
def base_url(smoke_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with chalice_local(smoke_bundle, tmp_path_factory.mktemp("fuzz") / "chalice-local.log") as server:
        yield server.base_url


def run_schemathesis(base_url: str, workdir: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`st run` on the served document; its process result and its JSON report."""
    config = workdir / "schemathesis.toml"
    config.write_text(CONFIG, encoding="utf-8")
    report = workdir / "report.json"
    done = subprocess.run(
        [
            str(SCHEMATHESIS), "--config-file", str(config), "run", f"{base_url}/openapi.json",
            "--checks", ",".join(CHECKS), "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
            "--workers", "1", "--mode", "all", "--generation-database", "none", "--output-truncate", "true",
            "--request-timeout", "30", "--report", "json", "--report-json-path", str(report),
        ],
        cwd=workdir, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert report.is_file(), done.stdout[-4000:] + done.stderr[-4000:]
    return done, json.loads(report.read_text())


def test_the_served_openapi_document_holds_under_schemathesis(base_url: str, tmp_path: Path) -> None:
    done, report = run_schemathesis(base_url, tmp_path)
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    assert (report["failures"], report["errors"]) == ([], [])
    assert report["operations"]["tested"] == 3  # POST /predict, GET /health, GET /model (not the document itself)
    assert report["phases"]["coverage"]["status"] == report["phases"]["fuzzing"]["status"] == "success"
    assert report["test_cases"]["generated"] >= 2 * MAX_EXAMPLES, report["test_cases"]
    print(f"schemathesis: {report['test_cases']['generated']} cases, no failures ({report['running_time']:.0f} s)")
