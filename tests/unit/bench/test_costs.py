from pathlib import Path

import pytest

from bench import costs

# A real /proc/<pid>/stat line, with a command holding spaces and a parenthesis.
STAT = (
    "4242 (kube (api) server) S 1 4242 4242 0 -1 4194560 1234 0 0 0 "
    "300 100 40 20 20 0 12 0 5000 123456789 4567 18446744073709551615"
)
STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t  216000 kB\nVmRSS:\t  200000 kB\nThreads:\t3\n"


def test_parse_stat_counts_fields_after_the_command() -> None:
    assert costs.parse_stat(STAT) == pytest.approx(400 / costs.TICKS)
    assert costs.parse_stat(STAT, children=True) == pytest.approx(460 / costs.TICKS)


def test_parse_status() -> None:
    assert costs.parse_status(STATUS) == (216000, 200000)
    assert costs.parse_status("Name:\tzombie\nState:\tZ\n") == (0, 0)


def test_read_and_snapshot(tmp_path: Path) -> None:
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "stat").write_text(STAT)
    (tmp_path / "7" / "status").write_text(STATUS)
    assert costs.read(7, proc=tmp_path) == costs.Usage(400 / costs.TICKS, 216000, 200000)
    # This process is real; a pid that does not exist is left out.
    snap = costs.snapshot({"me": 1 << 30})
    assert snap == {}


def test_per_server() -> None:
    before = {"operator": costs.Usage(1.0, 100, 100), "gone": costs.Usage(1.0, 1, 1)}
    after = {"operator": costs.Usage(1.5, 2048, 1024), "new": costs.Usage(9.0, 1, 1)}
    assert costs.per_server(before, after, servers=100) == {
        "operator": {"cpu_s": 0.5, "cpu_ms_per_server": 5.0, "peak_rss_mb": 2.0}
    }
    assert costs.total_cpu({"a": {"cpu_ms_per_server": 1.0}, "b": {"cpu_ms_per_server": 2.0}}, ("a", "c")) == 1.0


def test_machine_cpu() -> None:
    assert costs.machine_cpu_ms({"a": {"cpu_ms_per_server": 1.25}, "b": {"cpu_ms_per_server": 2.0}}) == 3.25
