"""Install the shipper's index templates and retention policy into Elasticsearch; safe to run again.

    python -m monitoring.elastic.es_setup --es-url http://localhost:9200      (or `make es-setup ES_URL=...`)

Steps, each idempotent (PUT replaces the object of the same name):
1. the ILM policy monitoring/elastic/ilm_policy.json as `cola-logs-retention`. A server without ILM (OpenSearch, the
   noida-db test server) answers 400 "no handler found" or 404: the policy is skipped with a message, and the
   templates are installed without `index.lifecycle.name` (delete old daily indices some other way);
2. the three index templates (monitoring/elastic/index_templates.py), with the index prefixes the shipper uses;
3. the mappings of indices that already exist for those patterns, so that a field added to the schema is known
   today and not only from tomorrow's index (adding fields is allowed; changing a type is refused by Elasticsearch).

The API key comes from the environment variable ES_API_KEY (never from the command line, where `ps` shows it).
Prints a JSON summary of what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.settings import (
    DEFAULT_INDEX_PREFIX,
    DEFAULT_LOGS_INDEX_PREFIX,
    DEFAULT_PLATFORM_INDEX_PREFIX,
    ShipperSettings,
    redact_url,
)
from monitoring.elastic.index_templates import FAMILIES, ILM_POLICY_NAME, ilm_policy, index_template

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


class SetupError(RuntimeError):
    """Elasticsearch is unreachable or refused part of the set-up."""


def ilm_unsupported(status: int, body: Any) -> bool:
    """The server has no ILM API: 404, or 400 "no handler found for uri" (how ES-like servers answer)."""
    if status == 404:
        return True
    text = json.dumps(body) if not isinstance(body, str) else body
    return status == 400 and "no handler found" in text


def install_ilm_policy(client: Elasticsearch) -> tuple[bool, str]:
    """(installed, what happened) for the retention policy."""
    from elasticsearch import ApiError

    try:
        client.ilm.put_lifecycle(name=ILM_POLICY_NAME, body=ilm_policy())
    except ApiError as err:
        if ilm_unsupported(err.meta.status, err.body):
            return False, (
                f"skipped: this server has no ILM API (HTTP {err.meta.status}); templates are installed without "
                "index.lifecycle.name, so delete old daily indices another way"
            )
        message = f"Elasticsearch refused the ILM policy {ILM_POLICY_NAME}: {err.meta.status} {err.body}"
        raise SetupError(message) from None
    return True, f"installed {ILM_POLICY_NAME}"


def install(client: Elasticsearch, prefixes: dict[str, str], *, use_ilm: bool = True) -> dict[str, Any]:
    """Run the three steps; the summary says what each did."""
    from elasticsearch import ApiError

    summary: dict[str, Any] = {"ilm": "not requested (--no-ilm)", "templates": {}, "updated_indices": {}}
    ilm_installed = False
    if use_ilm:
        ilm_installed, summary["ilm"] = install_ilm_policy(client)
    for family, spec in FAMILIES.items():
        template = index_template(family, prefixes[family], ILM_POLICY_NAME if ilm_installed else None)
        pattern = template["index_patterns"][0]
        try:
            client.indices.put_index_template(name=spec["name"], body=template)
            existing = sorted(client.indices.get(index=pattern, allow_no_indices=True, expand_wildcards="open"))
            if existing:
                client.indices.put_mapping(index=",".join(existing), body=template["template"]["mappings"])
        except ApiError as err:
            raise SetupError(f"Elasticsearch refused the {spec['name']} set-up: {err.meta.status} {err.body}") from None
        summary["templates"][spec["name"]] = pattern
        summary["updated_indices"][spec["name"]] = existing
    return summary


def connect(url: str, api_key: str | None, timeout_s: float) -> Elasticsearch:
    """A client that answered GET / (SetupError with the reason otherwise)."""
    from elastic_transport import TransportError
    from elasticsearch import ApiError, Elasticsearch

    client = Elasticsearch(url, api_key=api_key, request_timeout=timeout_s, max_retries=2)
    try:
        version = client.info()["version"]["number"]
    except (TransportError, ApiError) as err:
        raise SetupError(f"cannot reach Elasticsearch at {redact_url(url)}: {err}") from None
    print(f"Elasticsearch {version} at {redact_url(url)}", file=sys.stderr)
    return client


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--es-url", default=os.environ.get("ES_URL"), help="endpoint (default: $ES_URL)")
    parser.add_argument("--index-prefix", default=os.environ.get("ES_INDEX_PREFIX") or DEFAULT_INDEX_PREFIX)
    parser.add_argument(
        "--platform-index-prefix", default=os.environ.get("ES_PLATFORM_INDEX_PREFIX") or DEFAULT_PLATFORM_INDEX_PREFIX
    )
    parser.add_argument(
        "--logs-index-prefix", default=os.environ.get("ES_LOGS_INDEX_PREFIX") or DEFAULT_LOGS_INDEX_PREFIX
    )
    parser.add_argument("--no-ilm", action="store_true", help="install no retention policy")
    parser.add_argument("--timeout-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not args.es_url:
        parser.error("give --es-url URL or set ES_URL (e.g. http://localhost:9200)")
    try:
        settings = ShipperSettings(  # the shipper's own checks of the URL and the prefixes
            es_url=args.es_url,
            index_prefix=args.index_prefix,
            platform_index_prefix=args.platform_index_prefix,
            logs_index_prefix=args.logs_index_prefix,
        )
    except SettingsError as err:
        parser.error(str(err))
    prefixes = {family: settings.prefix_of(family) for family in FAMILIES}
    try:
        client = connect(args.es_url, os.environ.get("ES_API_KEY") or None, args.timeout_s)
        summary = install(client, prefixes, use_ilm=not args.no_ilm)
    except SetupError as err:
        print(f"es-setup: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
