"""The Kibana import client sends what Kibana's saved objects import API expects and reports its answers clearly.

Kibana itself cannot run here (no package of it is reachable), so a small HTTP server in this test stands in for
it: it records each request and answers the way Kibana 8's `POST /api/saved_objects/_import` does (a success
document built from the objects it received, a per-object error list with `"success": false`, or an error status
with Kibana's `{"statusCode", "error", "message"}` body). The request checks are real: the client's bytes are
parsed as multipart/form-data by the standard library's email parser.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from devtools.processes import free_port
from monitoring.elastic import kibana_import
from monitoring.elastic.kibana_objects import SAVED_OBJECTS_FILE
from tests.conftest import ROOT

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="  # a made-up key in Elastic's format


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    """Names in lower case (HTTP header names are case-insensitive)."""
    body: bytes


Answer = Callable[[Received], tuple[int, dict[str, Any]]]


def kibana_success(request: Received) -> tuple[int, dict[str, Any]]:
    """What Kibana answers when every object in the uploaded file was imported."""
    objects = [json.loads(line) for line in uploaded_file(request)[2].decode().splitlines()]
    results = [{"type": o["type"], "id": o["id"], "meta": {"title": o["attributes"]["title"]}} for o in objects]
    return 200, {"success": True, "successCount": len(objects), "successResults": results}


@dataclass
class FakeKibana:
    """A stand-in for Kibana's import endpoint on a free loopback port (see the module docstring)."""

    answer: Answer = kibana_success
    requests: list[Received] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def kibana() -> Iterator[FakeKibana]:
    fake = FakeKibana()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = Received(
                "POST", parts.path, parse_qs(parts.query), {k.lower(): v for k, v in self.headers.items()}, body
            )
            fake.requests.append(request)
            status, document = fake.answer(request)
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def uploaded_file(request: Received) -> tuple[str | None, str | None, bytes]:
    """(form field name, filename, content) of the single part of a multipart/form-data request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=default_policy).parsebytes(head + request.body)
    assert message.is_multipart()
    [part] = list(message.iter_parts())
    content = part.get_payload(decode=True)
    assert isinstance(content, bytes)
    return part.get_param("name", header="content-disposition"), part.get_filename(), content


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = kibana_import.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_sends_the_file_as_kibana_expects(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIBANA_API_KEY", API_KEY)
    code, out, _ = run_cli("--url", kibana.url, capsys=capsys)
    assert code == 0
    [request] = kibana.requests
    assert request.path == "/api/saved_objects/_import"
    assert request.query == {"overwrite": ["true"]}
    assert request.headers["kbn-xsrf"] == "true"
    assert request.headers["authorization"] == f"ApiKey {API_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    name, filename, content = uploaded_file(request)
    assert name == "file"
    assert filename == "saved_objects.ndjson"
    assert content == SAVED_OBJECTS_FILE.read_bytes()
    count = len(SAVED_OBJECTS_FILE.read_text().splitlines())
    assert f"imported {count} saved objects into Kibana at {kibana.url}" in out
    assert "dashboard cola-monitoring" in out
    assert API_KEY not in out


def test_without_a_key_no_authorization_is_sent_and_a_space_gets_its_path(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KIBANA_API_KEY", raising=False)
    code, out, _ = run_cli("--url", kibana.url + "/", "--space", "ml ops", "--no-overwrite", capsys=capsys)
    assert code == 0
    [request] = kibana.requests
    assert request.path == "/s/ml%20ops/api/saved_objects/_import"
    assert request.query == {"overwrite": ["false"]}
    assert "authorization" not in request.headers
    assert "(space ml ops)" in out


def test_kibanas_error_message_is_shown_with_a_hint(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIBANA_API_KEY", API_KEY)
    kibana.answer = lambda _: (401, {"statusCode": 401, "error": "Unauthorized", "message": "unable to authenticate"})
    code, out, err = run_cli("--url", kibana.url, capsys=capsys)
    assert code == 1
    assert out == ""
    assert f"Kibana at {kibana.url} answered 401: Unauthorized: unable to authenticate" in err
    assert "set KIBANA_API_KEY" in err
    assert API_KEY not in err


def test_a_bad_request_shows_kibanas_reason(kibana: FakeKibana, capsys: pytest.CaptureFixture[str]) -> None:
    message = "Unsupported file extension: only .ndjson files are supported"
    kibana.answer = lambda _: (415, {"statusCode": 415, "error": "Unsupported Media Type", "message": message})
    code, _, err = run_cli("--url", kibana.url, capsys=capsys)
    assert code == 1
    assert f"answered 415: Unsupported Media Type: {message}" in err


def test_objects_kibana_refused_are_listed(kibana: FakeKibana, capsys: pytest.CaptureFixture[str]) -> None:
    def partial(request: Received) -> tuple[int, dict[str, Any]]:
        missing = {"type": "missing_references", "references": [{"type": "index-pattern", "id": "cola-predictions"}]}
        errors = [
            {
                "id": "cola-model-versions",
                "type": "visualization",
                "meta": {"title": "Model versions"},
                "error": missing,
            }
        ]
        return 200, {"success": False, "successCount": 9, "errors": errors}

    kibana.answer = partial
    code, _, err = run_cli("--url", kibana.url, capsys=capsys)
    assert code == 1
    assert "imported 9 objects and refused these:" in err
    assert (
        "visualization cola-model-versions (Model versions): missing_references: index-pattern cola-predictions" in err
    )


def test_no_kibana_listening_says_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, _, err = run_cli("--url", url, "--timeout", "5", capsys=capsys)
    assert code == 1
    assert f"cannot reach Kibana at {url}: [Errno 111] Connection refused" in err
    assert "docker compose -f docker/docker-compose.yml up kibana" in err


def test_a_kibana_that_never_answers_times_out(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        code, _, err = run_cli("--url", url, "--timeout", "1", capsys=capsys)
    assert code == 1
    assert f"Kibana at {url} did not answer within 1 s" in err


def test_credentials_in_the_url_are_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, _, err = run_cli("--url", f"http://elastic:hunter2@127.0.0.1:{port}", "--timeout", "5", capsys=capsys)
    assert code == 1
    assert "hunter2" not in err
    assert f"http://127.0.0.1:{port}" in err


@pytest.mark.parametrize("url", ["127.0.0.1:5601", "ftp://kibana", "http://"])
def test_a_url_that_is_not_http_is_refused(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli("--url", url, capsys=capsys)
    assert code == 1
    assert "KIBANA_URL must be an http(s)://host[:port] URL" in err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli("--url", "http://127.0.0.1:5601", "--file", str(tmp_path / "nope.ndjson"), capsys=capsys)
    assert code == 1
    assert "cannot read" in err
    assert "nope.ndjson" in err


def test_make_kibana_import_uses_kibana_url_and_the_key_from_the_environment(kibana: FakeKibana) -> None:
    env = {"PATH": "/usr/bin:/bin", "KIBANA_API_KEY": API_KEY}
    make = ["make", "--no-print-directory", f"VENV={Path(sys.executable).parent.parent}", "STAMP="]
    result = subprocess.run(
        [*make, "kibana-import", f"KIBANA_URL={kibana.url}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [request] = kibana.requests
    assert request.headers["authorization"] == f"ApiKey {API_KEY}"
    assert API_KEY not in result.stdout + result.stderr


def test_dashboards_import_sends_osd_xsrf_basic_auth_and_the_tenant(
    kibana: FakeKibana, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """OpenSearch Dashboards' import API: same path and form, `osd-xsrf` (it refuses writes without it), basic
    auth of an internal user, the security plugin's tenant header, and the Dashboards file."""
    from monitoring.elastic.dashboards_objects import SAVED_OBJECTS_FILE as DASHBOARDS_FILE

    monkeypatch.setenv("KIBANA_API_KEY", API_KEY)  # a Kibana key is never sent to Dashboards
    monkeypatch.setenv("KIBANA_SPACE", "ml")  # nor a Kibana space
    monkeypatch.setenv("DASHBOARDS_USERNAME", "admin")
    monkeypatch.setenv("DASHBOARDS_PASSWORD", "s3cret-pass")
    code, out, _ = run_cli("--dashboards", "--url", kibana.url, "--tenant", "global", capsys=capsys)
    assert code == 0
    [request] = kibana.requests
    assert request.path == "/api/saved_objects/_import"
    assert request.headers["osd-xsrf"] == "true"
    assert "kbn-xsrf" not in request.headers
    assert request.headers["authorization"] == "Basic YWRtaW46czNjcmV0LXBhc3M="  # base64("admin:s3cret-pass")
    assert request.headers["securitytenant"] == "global"
    assert uploaded_file(request)[2] == DASHBOARDS_FILE.read_bytes()
    assert f"into OpenSearch Dashboards at {kibana.url}" in out
    assert "s3cret-pass" not in out


def test_dashboards_has_no_spaces(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        kibana_import.main(["--dashboards", "--url", "http://127.0.0.1:9", "--space", "ml"])
    assert "has no spaces: use --tenant" in capsys.readouterr().err
