"""The performance report's table: each target judged from the figures the benchmarks kept."""

from __future__ import annotations

from scripts.figures import percentile, record
from scripts.perf_report import costs, read_figures, table


def test_figures_recorded_by_a_benchmark_are_judged_against_their_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("PERF_FIGURES", str(tmp_path / "figures.jsonl"))
    record("engine.cpap-osa.cases.eval_per_s", 16_000.0)
    record("engine.cpap-osa.cases.reference_eval_per_s", 8_000.0)
    record("http.p99_ms", 31.5)
    record("reload.failed_requests", 0)

    rows = {row.split(" | ")[0].lstrip("| "): row for row in table(read_figures(tmp_path / "figures.jsonl"))}

    assert rows["engine: CPAP evaluations/s, one core (test cases)"].endswith(
        "| 16,000 /s | yes | 0.5x (reference 8,000/s) |"
    )
    assert rows["HTTP: p99 latency"].endswith("| 31.5 ms | **no** | - |")
    assert rows["reload: failed requests during the approvals"].endswith("| 0 | yes | - |")
    assert "| not measured |" in rows["audit: verify"]


def test_without_a_figures_file_recording_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("PERF_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    record("http.p99_ms", 1.0)
    assert list(tmp_path.iterdir()) == []
    assert read_figures(tmp_path / "absent.jsonl") == {}


def test_costs_show_what_a_unit_of_work_takes_and_what_was_not_measured(tmp_path, monkeypatch):
    monkeypatch.setenv("PERF_FIGURES", str(tmp_path / "figures.jsonl"))
    record("http.cpu_ms.service", 4.52)
    record("http.cpu_ceiling_per_s", 287.4)

    rows = {row.split(" | ")[0].lstrip("| "): row for row in costs(read_figures(tmp_path / "figures.jsonl"))}

    assert rows["HTTP: service CPU per logged decision"].endswith("| 4.5 ms |")
    assert rows["HTTP: logged decisions/s all the cores allow at that cost"].endswith("| 287 /s |")
    assert rows["audit: verify CPU per entry (PostgreSQL and the command)"].endswith("| not measured |")


def test_percentiles_are_nearest_rank():
    hundred = [float(n) for n in range(1, 101)]
    assert percentile(hundred, 0.99) == 99.0  # one value in a hundred may be above it
    assert percentile(hundred, 0.5) == 50.0
    assert percentile([3.0, 1.0, 2.0], 0.99) == 3.0
    assert percentile([7.0], 0.5) == 7.0
    assert str(percentile([], 0.99)) == "nan"
