"""`python -m monitoring.elastic.es_setup` (`make es-setup`) against a real Elasticsearch-API server (noida-db).

noida-db has no ILM API: it answers PUT _ilm/policy with 400 "no handler found", so these tests also prove that
the installer skips the retention policy with a clear message and installs the templates without
index.lifecycle.name. On real Elasticsearch the policy is installed and the templates reference it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from devtools.processes import free_port
from monitoring.elastic.index_templates import FAMILIES, index_template
from tests.conftest import ROOT
from tests.support.es_server import EsServer

pytestmark = pytest.mark.integration


def es_setup(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("ES_URL", None)
    command = [sys.executable, "-m", "monitoring.elastic.es_setup", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def stored_template(es: EsServer, name: str) -> dict[str, Any]:
    template: dict[str, Any] = es.request("GET", f"/_index_template/{name}")["index_templates"][0]["index_template"]
    return template


def test_installs_the_templates_and_skips_ilm_on_a_server_without_it(es: EsServer) -> None:
    done = es_setup("--es-url", es.url)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["retention"].startswith("skipped: this server has no ILM API (HTTP 400)")
    assert summary["templates"] == {
        "cola-predictions": "predictions-*",
        "cola-platform": "platform-*",
        "cola-app-logs": "app-logs-*",
    }
    assert "Elasticsearch 8.15" in done.stderr
    for family, spec in FAMILIES.items():
        stored = stored_template(es, spec["name"])
        assert stored["template"]["mappings"] == index_template(family)["template"]["mappings"]
        assert "lifecycle" not in json.dumps(stored["template"].get("settings", {}))


def test_running_it_again_changes_nothing(es: EsServer) -> None:
    assert es_setup("--es-url", es.url).returncode == 0
    first = {spec["name"]: stored_template(es, spec["name"]) for spec in FAMILIES.values()}
    again = es_setup("--es-url", es.url)
    assert again.returncode == 0, again.stderr
    assert {spec["name"]: stored_template(es, spec["name"]) for spec in FAMILIES.values()} == first


def test_other_prefixes_give_other_patterns(es: EsServer) -> None:
    done = es_setup("--es-url", es.url, "--index-prefix", "cola-preds", "--no-ilm")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["retention"] == "not requested (--no-ilm)"
    assert stored_template(es, "cola-predictions")["index_patterns"] == ["cola-preds-*"]


def test_an_unreachable_server_is_a_clear_error() -> None:
    done = es_setup("--es-url", f"http://127.0.0.1:{free_port()}", "--timeout-s", "2")
    assert done.returncode == 1
    assert "es-setup: cannot reach Elasticsearch at http://127.0.0.1:" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --es-url URL or set ES_URL"),
        (("--es-url", "localhost:9200"), "ES_URL must be an http(s)://host[:port] URL"),
        (("--es-url", "http://localhost:9200", "--index-prefix", "Bad*"), "ES_INDEX_PREFIX must be lowercase"),
    ],
)
def test_bad_arguments_are_refused_before_connecting(args: tuple[str, ...], message: str) -> None:
    done = es_setup(*args)
    assert done.returncode == 2
    assert message in done.stderr
