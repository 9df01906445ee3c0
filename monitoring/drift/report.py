"""Drift and quality report: recent prediction records against the bundle's reference, as HTML and JSON.

    python -m monitoring.drift.report --bundle artifacts/bundles/minilm --log artifacts/monitoring/predictions.log \\
        --out artifacts/monitoring/report.html
    python -m monitoring.drift.report --bundle artifacts/bundles/minilm --es-url https://es.example:9200 --window 24h

The JSON summary is written next to the HTML (same name, .json). --es-url may be Elasticsearch or OpenSearch: the
backend and credentials come from the shipper's variables (SEARCH_BACKEND, ES_AUTH, ES_API_KEY, ES_SIGV4_REGION, ...;
docs/monitoring.md).

Exit codes: 0 the status is below --fail-on (OK, or WARN with the default --fail-on alert, or INSUFFICIENT_DATA:
too few records to judge is not an alarm); 1 the status is at or above --fail-on (ALERT, or WARN too with
--fail-on warn); 2 no report: bad arguments or settings, a missing bundle or log file, Elasticsearch unreachable.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalice_app.chalicelib.contract.manifest import BundleError, Manifest, load_manifest
from chalice_app.chalicelib.environment import SettingsError
from chalice_app.chalicelib.shipper.settings import ShipperSettings
from monitoring.drift.config import ConfigError, MonitoringConfig, load_config, parse_duration
from monitoring.drift.plots import all_plots
from monitoring.drift.render import render_html
from monitoring.drift.signals import SEVERITY, Assessment, Reference, ReferenceDataError, Status, assess
from monitoring.drift.sources import SourceError, SourceSummary, read_elasticsearch, read_log_file, window_ending

log = logging.getLogger("monitoring.drift.report")

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2
FAIL_ON = {"warn": Status.WARN, "alert": Status.ALERT}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m monitoring.drift.report",
        description="Compare recent predictions with the bundle's reference distribution (HTML + JSON report).",
        epilog="Exit codes: 0 below --fail-on, 1 at or above --fail-on, 2 no report (error).",
    )
    parser.add_argument("--bundle", type=Path, required=True, help="model bundle directory (its manifest's reference)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--log", type=Path, help="JSON-lines log file (what `make serve` prints)")
    source.add_argument(
        "--es-url", help="Elasticsearch or OpenSearch URL; SEARCH_BACKEND and credentials from the environment"
    )
    parser.add_argument(
        "--window",
        type=_duration,
        help="only records of this last duration (30m, 24h, 7d); default: the config's for Elasticsearch, "
        "the whole file for --log",
    )
    parser.add_argument("--index", help="Elasticsearch index pattern (default: the config's, predictions-*)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/monitoring/report.html"), help="HTML report path")
    parser.add_argument("--config", type=Path, help="YAML overriding conf/monitoring/default.yaml keys")
    parser.add_argument("--fail-on", choices=sorted(FAIL_ON), default="alert", help="status that exits 1")
    return parser.parse_args(argv)


def _duration(text: str) -> str:
    try:
        parse_duration(text)
    except ConfigError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return text


def read_source(args: argparse.Namespace, config: MonitoringConfig, now: datetime) -> SourceSummary:
    if args.log is not None:
        window = window_ending(now, args.window) if args.window else None
        log.info("reading %s%s", args.log, f" (last {args.window})" if args.window else "")
        return read_log_file(args.log, window)
    settings = config.elasticsearch
    if args.index:
        settings = dataclasses.replace(settings, index=args.index)
    window = window_ending(now, args.window or settings.window)
    log.info("searching %s for %s to %s", settings.index, window.since.isoformat(), window.until.isoformat())
    connection = ShipperSettings.from_env({**os.environ, "ES_URL": args.es_url})  # backend and credentials
    return read_elasticsearch(args.es_url, None, settings, window, connection)


def build_summary(
    assessment: Assessment,
    source: SourceSummary,
    manifest: Manifest,
    reference: Reference,
    bundle_dir: Path,
    config: MonitoringConfig,
    now: datetime,
) -> dict[str, Any]:
    """Everything the report says, as JSON-ready data (the HTML renders this)."""
    return {
        "status": str(assessment.status),
        "generated_at": now.isoformat(timespec="seconds"),
        "bundle": {
            "path": str(bundle_dir),
            "model_version": manifest.get("model_version"),
            "reference_split": reference.split,
            "reference_n": reference.n,
        },
        "source": source.to_dict(),
        "settings": {"min_records": config.min_records, "psi_epsilon": config.psi_epsilon},
        **{k: v for k, v in assessment.to_dict().items() if k != "status"},
    }


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    """Build and write the report; the exit code per --fail-on."""
    now = now or datetime.now(UTC)
    config = load_config(args.config)
    manifest = load_manifest(args.bundle)
    reference = Reference.from_manifest(manifest)
    version = str(manifest.get("model_version"))
    log.info("bundle %s: model %s, reference %s (%d sentences)", args.bundle, version, reference.split, reference.n)
    source = read_source(args, config, now)
    log.info(
        "read %d %s: %d prediction records, %d skipped (not JSON %d, other types %s, invalid %d, outside window %d)",
        source.read,
        "lines" if source.kind == "log_file" else "documents",
        len(source.records),
        source.skipped,
        source.not_json,
        dict(source.other_types),
        source.invalid,
        source.outside_window,
    )
    for problem in source.problems:
        log.warning("invalid prediction %s", problem)
    assessment = assess(source.records, reference, version, config)
    summary = build_summary(assessment, source, manifest, reference, args.bundle, config, now)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render_html(summary, all_plots(assessment.distributions)), encoding="utf-8")
    json_path = args.out.with_suffix(".json")
    json_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    for signal in assessment.signals:
        log.info("%-28s %-18s %s", signal.name, signal.status, "n/a" if signal.value is None else f"{signal.value:.4g}")
    log.info("status %s: wrote %s and %s", assessment.status, args.out, json_path)
    if assessment.status is Status.INSUFFICIENT_DATA:
        log.warning(
            "only %d prediction records (min_records %d): no drift judged", len(source.records), config.min_records
        )
    failing = SEVERITY[assessment.status] >= SEVERITY[FAIL_ON[args.fail_on]]
    return EXIT_FAIL if failing else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
    args = parse_args(argv)
    try:
        return run(args)
    except (ConfigError, BundleError, ReferenceDataError, SourceError, SettingsError) as err:
        log.error("no report: %s", err)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
