"""The report command: HTML + JSON written, exit code 0 when the window looks like the reference, 1 when it
drifted (or warns, with --fail-on warn), 2 when no report can be made; insufficient data never exits 1."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from monitoring.drift.report import main
from tests.conftest import ROOT
from tests.support.prediction_logs import (
    drifted_predictions,
    flip_labels,
    log_lines,
    reference_predictions,
    write_log,
    write_reference_bundle,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("report") / "bundle"
    return directory, write_reference_bundle(directory, reference_predictions())


def report(bundle: tuple[Path, str], log: Path, out: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    code = main(["--bundle", str(bundle[0]), "--log", str(log), "--out", str(out), *extra])
    summary = json.loads(out.with_suffix(".json").read_text())
    return code, summary, out.read_text()


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in summary["signals"]}


def test_an_undrifted_log_exits_0_with_status_ok(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "p.log", ["Serving on http://127.0.0.1:8000", *log_lines(reference_predictions(), bundle[1])]
    )
    code, summary, html = report(bundle, log, tmp_path / "out" / "report.html")
    assert code == 0
    assert summary["status"] == "OK"
    assert set(statuses(summary).values()) == {"OK"}
    assert summary["source"]["predictions"] == 600
    assert summary["source"]["skipped"]["not_json"] == 1
    assert summary["bundle"]["model_version"] == bundle[1]
    assert '<div class="banner" id="status"' in html
    assert ">OK</div>" in html


def test_a_drifted_log_exits_1_with_status_alert(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(drifted_predictions(), bundle[1]))
    code, summary, _ = report(bundle, log, tmp_path / "report.html")
    assert code == 1
    assert summary["status"] == "ALERT"
    assert statuses(summary)["score_psi"] == "ALERT"
    assert statuses(summary)["length_psi"] == "ALERT"


def test_a_warning_exits_0_unless_fail_on_warn(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(flip_labels(reference_predictions(), 0.07), bundle[1]))
    code, summary, _ = report(bundle, log, tmp_path / "report.html")
    assert (code, summary["status"]) == (0, "WARN")
    code, summary, _ = report(bundle, log, tmp_path / "report.html", "--fail-on", "warn")
    assert (code, summary["status"]) == (1, "WARN")


def test_too_few_records_exit_0_with_insufficient_data(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(drifted_predictions(n=50), bundle[1]))
    code, summary, html = report(bundle, log, tmp_path / "report.html", "--fail-on", "warn")
    assert code == 0
    assert summary["status"] == "INSUFFICIENT_DATA"
    assert "INSUFFICIENT_DATA" in html


def test_the_window_option_filters_the_file(bundle: tuple[Path, str], tmp_path: Path) -> None:
    """Lines from two days ago are outside `--window 24h` and counted as such."""
    from datetime import UTC, datetime, timedelta

    old = log_lines(drifted_predictions(), bundle[1], start=datetime.now(UTC) - timedelta(days=2))
    log = write_log(tmp_path / "p.log", [*old, *log_lines(reference_predictions(), bundle[1])])
    code, summary, _ = report(bundle, log, tmp_path / "report.html", "--window", "24h")
    assert (code, summary["status"]) == (0, "OK")
    assert summary["source"]["skipped"]["outside_window"] == 600
    assert summary["source"]["window"] is not None


def test_the_html_is_self_contained_with_three_inline_pngs(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(drifted_predictions(), bundle[1]))
    _, summary, html = report(bundle, log, tmp_path / "report.html")
    images = re.findall(r'<img alt="[^"]+" data-plot="(\w+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', html)
    assert [name for name, _ in images] == ["scores", "labels", "lengths"]
    for _, data in images:
        assert base64.b64decode(data).startswith(PNG_MAGIC)
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # nothing fetched from elsewhere
    assert "<script" not in html
    for signal in summary["signals"]:
        assert f'data-signal="{signal["name"]}"' in html


def test_the_json_summary_holds_levels_and_distributions(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(reference_predictions(), bundle[1]))
    _, summary, _ = report(bundle, log, tmp_path / "report.html")
    psi = next(s for s in summary["signals"] if s["name"] == "score_psi")
    assert (psi["warn"], psi["alert"]) == (0.1, 0.25)
    distributions = summary["distributions"]
    assert distributions["score_recent"]["counts"] == distributions["score_reference"]["counts"]
    assert summary["operations"]["latency_p95_ms"] == 2.0
    assert summary["operations"]["model_versions"] == {bundle[1]: 600}


def test_a_config_file_changes_the_levels(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(flip_labels(reference_predictions(), 0.07), bundle[1]))
    config = tmp_path / "strict.yaml"
    config.write_text("signals:\n  label_share_diff: {warn: 0.01, alert: 0.05}\n")
    code, summary, _ = report(bundle, log, tmp_path / "report.html", "--config", str(config))
    assert (code, summary["status"]) == (1, "ALERT")


class TestNoReport:
    def test_a_missing_log_exits_2(
        self, bundle: tuple[Path, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        out = tmp_path / "report.html"
        assert main(["--bundle", str(bundle[0]), "--log", str(tmp_path / "nope.log"), "--out", str(out)]) == 2
        assert "no report: log file" in caplog.text
        assert not out.exists()

    def test_a_directory_that_is_not_a_bundle_exits_2(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        log = write_log(tmp_path / "p.log", [])
        assert main(["--bundle", str(tmp_path), "--log", str(log), "--out", str(tmp_path / "r.html")]) == 2
        assert "not a model bundle" in caplog.text

    def test_a_bundle_without_reference_exits_2(self, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
        from tests.support.manifests import write_minimal_bundle

        write_minimal_bundle(tmp_path)
        log = write_log(tmp_path / "p.log", [])
        assert main(["--bundle", str(tmp_path), "--log", str(log), "--out", str(tmp_path / "r.html")]) == 2
        assert "no reference section" in caplog.text

    def test_a_bad_window_is_a_usage_error(self, bundle: tuple[Path, str], tmp_path: Path) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main(["--bundle", str(bundle[0]), "--log", "x.log", "--window", "yesterday"])
        assert exit_info.value.code == 2

    def test_log_and_es_url_are_exclusive(self, bundle: tuple[Path, str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main(["--bundle", str(bundle[0]), "--log", "x.log", "--es-url", "http://localhost:9200"])
        assert exit_info.value.code == 2


class TestMakeTargets:
    """`make monitor-report` runs this command; `make serve` tees its stdout into the default log (dry runs)."""

    @staticmethod
    def dry_run(*args: str) -> str:
        command = ["make", "-n", "-o", ".venv/.installed", *args]  # -o: never rebuild the environment here
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout

    def test_monitor_report_reads_the_default_log_of_make_serve(self) -> None:
        out = self.dry_run("monitor-report", "BUNDLE=b")
        assert "-m monitoring.drift.report --bundle b --log artifacts/monitoring/predictions.log" in out
        assert "--out artifacts/monitoring/report.html" in out

    def test_monitor_report_takes_a_log_or_elasticsearch(self) -> None:
        assert "--bundle b --log x.log " in self.dry_run("monitor-report", "BUNDLE=b", "LOG=x.log")
        out = self.dry_run("monitor-report", "BUNDLE=b", "ES_URL=http://es:9200", "REPORT_ARGS=--window 1h")
        assert "--bundle b --es-url http://es:9200 --out artifacts/monitoring/report.html --window 1h" in out

    def test_serve_appends_its_stdout_to_the_prediction_log(self) -> None:
        assert f"| tee -a {ROOT}/artifacts/monitoring/predictions.log" in self.dry_run("serve")
        assert "tee" not in self.dry_run("serve", "PREDICTION_LOG=")
