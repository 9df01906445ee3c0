"""The report command run as `python -m monitoring.drift.report` in its own process: exit code 1 and ALERT on a
drifted log (the in-process checks of the same command are in tests/unit/monitoring/drift/test_report.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.prediction_logs import (
    drifted_predictions,
    log_lines,
    reference_predictions,
    write_log,
    write_reference_bundle,
)
from tests.support.report_command import run_report


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("report") / "bundle"
    return directory, write_reference_bundle(directory, reference_predictions())


@pytest.mark.integration
@pytest.mark.slow
def test_runs_as_a_module_and_exits_1_on_alert(bundle: tuple[Path, str], tmp_path: Path) -> None:
    log = write_log(tmp_path / "p.log", log_lines(drifted_predictions(), bundle[1]))
    out = tmp_path / "report.html"
    result = run_report(bundle[0], log, out, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "status ALERT" in result.stderr
    assert "read 600 lines: 600 prediction records, 0 skipped" in result.stderr
    assert out.is_file()
