"""Install the shipper's index templates and retention policy into Elasticsearch or OpenSearch; safe to run again.

    python -m monitoring.elastic.es_setup --es-url http://localhost:9200      (or `make es-setup ES_URL=...`)

The backend and its authentication come from the shipper's settings in the environment (SEARCH_BACKEND, ES_AUTH,
ES_API_KEY, ES_SIGV4_REGION, ...: chalicelib/shipper/settings.py), so es-setup talks to the server as the shipper
will. Steps, each idempotent:
1. the retention policy `cola-logs-retention`: on Elasticsearch the ILM policy monitoring/elastic/ilm_policy.json,
   named by each template; on OpenSearch the equivalent ISM policy (index_templates.ism_policy), which names the
   index patterns it attaches to. A server without that API (the noida-db and osmem-server test servers) answers
   400 "no handler found" or 404: the policy is skipped with a message (delete old daily indices another way);
2. the three index templates (monitoring/elastic/index_templates.py), with the index prefixes the shipper uses;
3. the mappings of indices that already exist for those patterns, so that a field added to the schema is known
   today and not only from tomorrow's index (adding fields is allowed; changing a type is refused).

Credentials come from the environment only (never the command line, where `ps` shows them).
Prints a JSON summary of what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.search_api import BACKEND_NAMES, NOT_ELASTICSEARCH
from chalice_app.chalicelib.shipper.settings import (
    DEFAULT_INDEX_PREFIX,
    DEFAULT_LOGS_INDEX_PREFIX,
    DEFAULT_PLATFORM_INDEX_PREFIX,
    ShipperSettings,
)
from monitoring.elastic.index_templates import FAMILIES, index_template
from monitoring.elastic.setup_api import (
    ApiError,
    ElasticsearchSetup,
    OpenSearchSetup,
    SetupError,
    api_unsupported,
    ilm_unsupported,
)

__all__ = ["SetupError", "connect", "ilm_unsupported", "install", "main"]


def install_retention(api: ElasticsearchSetup, prefixes: dict[str, str]) -> tuple[str | None, str]:
    """(the lifecycle name for the templates, what happened) for the retention policy."""
    try:
        lifecycle = api.put_retention(sorted(prefixes.values()))
    except ApiError as err:
        if api_unsupported(err.status, err.body):
            return None, (
                f"skipped: this server has no {api.retention} API (HTTP {err.status}); templates are installed "
                "without a retention policy, so delete old daily indices another way"
            )
        raise SetupError(f"the server refused the {api.retention} policy: {err.status} {err.body}") from None
    return lifecycle, f"installed {api.retention} policy cola-logs-retention"


def install(api: ElasticsearchSetup, prefixes: dict[str, str], *, use_ilm: bool = True) -> dict[str, Any]:
    """Run the three steps; the summary says what each did."""
    summary: dict[str, Any] = {"backend": api.backend, "retention": "not requested (--no-ilm)", "templates": {}}
    summary["updated_indices"] = {}
    lifecycle = None
    if use_ilm:
        lifecycle, summary["retention"] = install_retention(api, prefixes)
    for family, spec in FAMILIES.items():
        template = index_template(family, prefixes[family], lifecycle)
        pattern = template["index_patterns"][0]
        try:
            api.put_template(spec["name"], template)
            existing = api.existing(pattern)
            if existing:
                api.put_mapping(existing, template["template"]["mappings"])
        except ApiError as err:
            raise SetupError(f"the server refused the {spec['name']} set-up: {err.status} {err.body}") from None
        summary["templates"][spec["name"]] = pattern
        summary["updated_indices"][spec["name"]] = existing
    return summary


def connect(
    url: str, api_key: str | None, timeout_s: float, settings: ShipperSettings | None = None
) -> ElasticsearchSetup:
    """The set-up calls of the server at `url` (Elasticsearch with `api_key`, unless `settings` say otherwise),
    once it answered GET / (SetupError with the reason otherwise)."""
    settings = settings or ShipperSettings(es_url=url, api_key=api_key, timeout_s=timeout_s)
    api: ElasticsearchSetup
    try:
        if settings.backend == "opensearch":
            from chalice_app.chalicelib.shipper.opensearch_api import opensearch_client

            api = OpenSearchSetup(opensearch_client(settings, max_retries=2))
        else:
            from chalice_app.chalicelib.shipper.elasticsearch_api import elasticsearch_client

            api = ElasticsearchSetup(elasticsearch_client(settings, max_retries=2))
        info = api.client.info()
    except SettingsError:
        raise
    except Exception as err:  # each client's transport and API errors: all mean "cannot use this server"
        where = f"{BACKEND_NAMES[settings.backend]} at {settings.safe_url}"
        if type(err).__name__ == "UnsupportedProductError":
            raise SetupError(f"cannot use {where}: {NOT_ELASTICSEARCH}") from None
        raise SetupError(f"cannot reach {where}: {type(err).__name__}: {err}") from None
    distribution = BACKEND_NAMES.get(info["version"].get("distribution", "elasticsearch"), "unknown server")
    print(f"{distribution} {info['version']['number']} at {settings.safe_url}", file=sys.stderr)
    return api


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
    parser.add_argument("--no-ilm", action="store_true", help="install no retention policy (ILM or ISM)")
    parser.add_argument("--timeout-s", type=float, default=30.0)
    args = parser.parse_args(argv)
    if not args.es_url:
        parser.error("give --es-url URL or set ES_URL (e.g. http://localhost:9200)")
    env = {**os.environ, "ES_URL": args.es_url, "ES_INDEX_PREFIX": args.index_prefix}
    env.update(ES_PLATFORM_INDEX_PREFIX=args.platform_index_prefix, ES_LOGS_INDEX_PREFIX=args.logs_index_prefix)
    env["ES_TIMEOUT_S"] = str(args.timeout_s)
    try:
        settings = ShipperSettings.from_env(env)  # the shipper's own settings and checks
    except SettingsError as err:
        parser.error(str(err))
    prefixes = {family: settings.prefix_of(family) for family in FAMILIES}
    try:
        summary = install(connect(args.es_url, None, args.timeout_s, settings), prefixes, use_ilm=not args.no_ilm)
    except (SetupError, SettingsError) as err:
        print(f"es-setup: {err}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
