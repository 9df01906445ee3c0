"""The report as one self-contained HTML page: status, signals against their levels, the source's tally, plots
inlined as base64 PNGs. No scripts, no external resources: it opens from a file, a mail or a CI artifact."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

STATUS_COLORS = {
    "OK": "#c8e6c9",
    "WARN": "#fff3b0",
    "ALERT": "#ffcdd2",
    "INSUFFICIENT_DATA": "#e0e0e0",
    "UNAVAILABLE": "#e0e0e0",
}
CAPTIONS = {
    "scores": "Score distribution: share of predictions per P(acceptable) bin",
    "labels": "Predicted label shares",
    "lengths": "Input length in word pieces",
}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: left; font-size: 14px; }
th { background: #f3f3f3; }
.banner { padding: 10px 16px; font-size: 20px; font-weight: bold; border-radius: 4px; }
figure { display: inline-block; margin: 8px; }
figcaption { font-size: 13px; color: #555; }
"""


def _status_cell(status: str) -> str:
    return f'<td class="status" style="background:{STATUS_COLORS.get(status, "#fff")}">{escape(status)}</td>'


def _value(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return escape(str(value))


def _rows(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f"<tr><th>{escape(k)}</th><td>{_value(v)}</td></tr>" for k, v in pairs)


def render_html(summary: dict[str, Any], plots: dict[str, bytes]) -> str:
    """The page for a report summary (report.build_summary) and its plots (plots.all_plots)."""
    status = summary["status"]
    bundle, source, ops = summary["bundle"], summary["source"], summary["operations"]
    skipped = source["skipped"]
    window = source["window"]
    signal_rows = "".join(
        f'<tr data-signal="{escape(s["name"])}"><td>{escape(s["name"])}</td><td>{_value(s["value"])}</td>'
        f"<td>{_value(s['warn'])}</td><td>{_value(s['alert'])}</td>{_status_cell(s['status'])}"
        f"<td>{escape(s['detail'])}</td></tr>"
        for s in summary["signals"]
    )
    source_rows = _rows(
        [
            ("source", f"{source['kind']}: {source['location']}"),
            ("window", f"{window['since']} to {window['until']}" if window else "the whole file"),
            ("lines or documents read", source["read"]),
            ("documents in the window", source["in_window"]),
            ("prediction records used", source["predictions"]),
            ("skipped: not JSON", skipped["not_json"]),
            ("skipped: other line types", ", ".join(f"{k} {v}" for k, v in skipped["other_types"].items()) or 0),
            ("skipped: invalid predictions", skipped["invalid_predictions"]),
            ("skipped: outside the window", skipped["outside_window"]),
        ]
    )
    ops_rows = _rows(
        [
            ("predictions", ops["count"]),
            ("first / last", f"{ops['first']} / {ops['last']}"),
            ("latency p50 ms", ops["latency_p50_ms"]),
            ("latency p95 ms", ops["latency_p95_ms"]),
            ("model versions", ", ".join(f"{k} ({v})" for k, v in ops["model_versions"].items()) or "none"),
        ]
    )
    problems = "".join(f"<li>{escape(p)}</li>" for p in source["problems"])
    figures = "".join(
        f'<figure><img alt="{escape(CAPTIONS.get(name, name))}" data-plot="{escape(name)}" '
        f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'
        f"<figcaption>{escape(CAPTIONS.get(name, name))}</figcaption></figure>"
        for name, png in plots.items()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Drift report: {escape(status)}</title>
<style>{STYLE}</style></head>
<body>
<h1>Prediction drift and quality report</h1>
<div class="banner" id="status" style="background:{STATUS_COLORS.get(status, "#fff")}">{escape(status)}</div>
<p>Generated {escape(summary["generated_at"])} for bundle <code>{escape(bundle["path"])}</code>, model
<code>{escape(bundle["model_version"])}</code>; reference: {escape(str(bundle["reference_split"]))} split,
{_value(bundle["reference_n"])} sentences. At least {_value(summary["settings"]["min_records"])} records are needed
to judge drift.</p>
<h2>Signals</h2>
<table id="signals">
<tr><th>signal</th><th>value</th><th>warn at</th><th>alert at</th><th>status</th><th>detail</th></tr>
{signal_rows}</table>
<h2>Plots</h2>
<div id="plots">{figures}</div>
<h2>Source</h2>
<table id="source">{source_rows}</table>
{"<h3>First problems</h3><ul>" + problems + "</ul>" if problems else ""}
<h2>Operations</h2>
<table id="operations">{ops_rows}</table>
</body></html>
"""
