"""`make kibana-import`: load monitoring/elastic/kibana/saved_objects.ndjson with Kibana's saved objects import API.

    POST <KIBANA_URL>[/s/<space>]/api/saved_objects/_import?overwrite=true
    kbn-xsrf: true                        (Kibana refuses API writes without it)
    Authorization: ApiKey <KIBANA_API_KEY> (only when the variable is set; a Kibana without security needs none)
    multipart/form-data, the NDJSON file in the part named "file"

`make dashboards-import` (--dashboards): monitoring/elastic/dashboards/saved_objects.ndjson into OpenSearch
Dashboards, whose import API has the same path, form and answer, with `osd-xsrf: true` instead of kbn-xsrf, no
spaces (tenants are chosen with the securitytenant header: --tenant), and basic auth from DASHBOARDS_USERNAME /
DASHBOARDS_PASSWORD (an internal user of the domain's fine-grained access control; on Amazon OpenSearch Service
Dashboards is at https://<domain endpoint>/_dashboards).

Credentials come from the environment only and never appear in output. Kibana answers 200 even when objects fail to
import (`"success": false` with per-object errors: missing references, conflicts, unsupported types): that is an
error here too, listed object by object.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from monitoring.elastic import dashboards_objects
from monitoring.elastic.kibana_objects import SAVED_OBJECTS_FILE

API_KEY_VARIABLE = "KIBANA_API_KEY"
DEFAULT_TIMEOUT_S = 30.0
START_KIBANA = "start it (docker compose -f docker/docker-compose.yml up kibana) or set KIBANA_URL"


@dataclass(frozen=True)
class Product:
    """Kibana or OpenSearch Dashboards: what differs between their import APIs."""

    name: str
    xsrf_header: str
    default_file: Path


KIBANA = Product("Kibana", "kbn-xsrf", SAVED_OBJECTS_FILE)
DASHBOARDS = Product("OpenSearch Dashboards", "osd-xsrf", dashboards_objects.SAVED_OBJECTS_FILE)


class KibanaImportError(Exception):
    """The import did not happen, or not for every object; str() says why and what to do."""


@dataclass(frozen=True)
class ImportResult:
    """What Kibana reported for a successful import."""

    success_count: int
    objects: list[tuple[str, str]]
    """(type, id) of each imported object."""


def safe_url(url: str) -> str:
    """The URL without any user:password@ part, fit for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def import_url(kibana_url: str, space: str | None = None, overwrite: bool = True) -> str:
    """The import endpoint of the Kibana at `kibana_url` (in `space` when given)."""
    parts = urlsplit(kibana_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KibanaImportError(f"KIBANA_URL must be an http(s)://host[:port] URL, got {safe_url(kibana_url)!r}")
    base = kibana_url.rstrip("/")
    space_path = f"/s/{quote(space, safe='')}" if space else ""
    return f"{base}{space_path}/api/saved_objects/_import?overwrite={'true' if overwrite else 'false'}"


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    """A multipart/form-data body holding `content` as the file part "file", and its Content-Type."""
    boundary = f"----cola-kibana-import-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
    ).encode()
    body = head + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _kibana_message(status: int, body: bytes) -> str:
    """Kibana's own words from an error answer ({"statusCode", "error", "message"}), else the raw body."""
    try:
        answer = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    if isinstance(answer, dict) and "message" in answer:
        return f"{answer.get('error', status)}: {answer['message']}"
    return json.dumps(answer)[:500]


def _object_errors(errors: list[dict[str, Any]]) -> str:
    """One line per object Kibana refused."""
    lines = []
    for item in errors:
        error = item.get("error", {})
        kind = error.get("type", "unknown")
        detail = ""
        if kind == "missing_references":
            detail = ": " + ", ".join(f"{r.get('type')} {r.get('id')}" for r in error.get("references", []))
        elif error.get("message"):
            detail = f": {error['message']}"
        title = item.get("title") or item.get("meta", {}).get("title") or "untitled"
        lines.append(f"  {item.get('type')} {item.get('id')} ({title}): {kind}{detail}")
    return "\n".join(lines)


def import_saved_objects(
    kibana_url: str,
    ndjson: bytes,
    *,
    filename: str = SAVED_OBJECTS_FILE.name,
    api_key: str | None = None,
    space: str | None = None,
    overwrite: bool = True,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    product: Product = KIBANA,
    basic_auth: tuple[str, str] | None = None,
    tenant: str | None = None,
) -> ImportResult:
    """POST the NDJSON to the import API; raises KibanaImportError unless every object was imported."""
    url = import_url(kibana_url, space, overwrite)
    body, content_type = multipart(filename, ndjson)
    headers = {product.xsrf_header: "true", "Content-Type": content_type, "Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"ApiKey {api_key}"
    elif basic_auth:
        token = base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    if tenant:
        headers["securitytenant"] = tenant
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    where = safe_url(kibana_url)
    name = product.name
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        message = _kibana_message(err.code, err.read())
        hint = ""
        if err.code == 401 and product is DASHBOARDS:
            hint = " (set DASHBOARDS_USERNAME and DASHBOARDS_PASSWORD to a user Dashboards accepts)"
        elif err.code == 401:
            hint = f" (set {API_KEY_VARIABLE} to an API key Kibana accepts)"
        elif err.code == 403:
            hint = " (the API key's user needs the privilege to manage saved objects in this space)"
        elif err.code == 404 and space:
            hint = f" (does the space {space!r} exist?)"
        raise KibanaImportError(f"{name} at {where} answered {err.code}: {message}{hint}") from None
    except urllib.error.URLError as err:
        raise KibanaImportError(f"cannot reach {name} at {where}: {err.reason}; {START_KIBANA}") from None
    except TimeoutError:
        raise KibanaImportError(f"{name} at {where} did not answer within {timeout_s:g} s; {START_KIBANA}") from None
    try:
        answer = json.loads(raw)
    except ValueError:
        raise KibanaImportError(f"{name} at {where} answered with something that is not JSON: {raw[:200]!r}") from None
    if not answer.get("success"):
        details = _object_errors(list(answer.get("errors", [])))
        imported = answer.get("successCount", 0)
        raise KibanaImportError(f"{name} at {where} imported {imported} objects and refused these:\n{details}")
    results = answer.get("successResults", [])
    return ImportResult(int(answer.get("successCount", 0)), [(str(r.get("type")), str(r.get("id"))) for r in results])


def main(argv: list[str] | None = None) -> int:
    """CLI: import the file; 0 when every object was imported."""
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.elastic.kibana_import", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dashboards", action="store_true", help="import into OpenSearch Dashboards instead")
    parser.add_argument("--url", help="Kibana's URL (default: $KIBANA_URL; with --dashboards $DASHBOARDS_URL)")
    parser.add_argument("--file", type=Path, help="NDJSON of saved objects (default: the product's file)")
    parser.add_argument("--tenant", default=os.environ.get("DASHBOARDS_TENANT"), help="Dashboards tenant (security)")
    parser.add_argument("--space", help="Kibana space (default: $KIBANA_SPACE, else the default space)")
    parser.add_argument("--no-overwrite", action="store_true", help="keep objects that already exist (conflicts)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for Kibana")
    args = parser.parse_args(argv)
    product = DASHBOARDS if args.dashboards else KIBANA
    args.url = args.url or os.environ.get("DASHBOARDS_URL" if args.dashboards else "KIBANA_URL")
    args.file = args.file or product.default_file
    args.space = args.space or (None if args.dashboards else os.environ.get("KIBANA_SPACE"))
    if not args.url:
        variable = "DASHBOARDS_URL" if args.dashboards else "KIBANA_URL"
        parser.error(f"pass --url or set {variable} (e.g. http://127.0.0.1:5601)")
    if args.dashboards and args.space:
        parser.error("OpenSearch Dashboards has no spaces: use --tenant (DASHBOARDS_TENANT) with the security plugin")
    username, password = os.environ.get("DASHBOARDS_USERNAME"), os.environ.get("DASHBOARDS_PASSWORD")
    try:
        content = args.file.read_bytes()
    except OSError as err:
        print(f"kibana-import: error: cannot read {args.file}: {err.strerror}", file=sys.stderr)
        return 1
    try:
        result = import_saved_objects(
            args.url,
            content,
            filename=args.file.name,
            api_key=None if args.dashboards else os.environ.get(API_KEY_VARIABLE) or None,
            space=args.space,
            overwrite=not args.no_overwrite,
            timeout_s=args.timeout,
            product=product,
            basic_auth=(username, password) if args.dashboards and username and password else None,
            tenant=args.tenant if args.dashboards else None,
        )
    except KibanaImportError as err:
        print(f"kibana-import: error: {err}", file=sys.stderr)
        return 1
    space = f" (space {args.space})" if args.space else ""
    print(f"imported {result.success_count} saved objects into {product.name} at {safe_url(args.url)}{space}")
    for kind, object_id in result.objects:
        print(f"  {kind} {object_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
