"""``python -m benchmarks``: its options answer, a wrong part is refused, the quickest run writes RESULTS.md, and
the harness's processes keep their deadlines. No load is generated here."""

import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``benchmarks`` is not installed: it lives beside ``receiver`` in the repository
    sys.path.insert(0, str(ROOT))
harness = importlib.import_module("benchmarks.harness")
cli = importlib.import_module("benchmarks.cli")

UNREACHABLE = "postgresql://postgres@127.0.0.1:1/none"  # refused at once: the benchmark's database is never touched


def benchmarks(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "benchmarks", *args], cwd=cwd, env=harness.helper_environ(),
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_options(tmp_path):
    result = benchmarks("--help", cwd=tmp_path)  # from anywhere, with the repository on PYTHONPATH
    assert result.returncode == 0, result.stderr
    for option in ("--quick", "--only", "--postgres", "--seconds", "--connections", "--results"):
        assert option in result.stdout
    assert "link,intake,batch,delivery,growth" in result.stdout


def test_an_unknown_part_is_refused():
    result = benchmarks("--only", "link,nope", cwd=ROOT)
    assert result.returncode == 2
    assert "unknown part(s): nope" in result.stderr


def test_the_quickest_run_writes_results(tmp_path, capsys):
    results = tmp_path / "RESULTS.md"
    assert cli.main(["--quick", "--only", "link", "--postgres", UNREACHABLE, "--results", str(results)]) == 0
    text = results.read_text(encoding="utf-8")
    assert text.startswith("# Benchmark results\n")
    assert "`.venv/bin/python -m benchmarks --quick --only link`" in text
    assert "PostgreSQL parts skipped: postgresql://postgres@127.0.0.1:1/none is unreachable" in text
    # with the reference encryptor installed, the link row; without it, the note that names the extra
    assert "| link | time per link (median of rounds) |" in text or "link building skipped:" in text
    assert "1. link building" in capsys.readouterr().out


def test_a_silent_process_misses_its_deadline():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="printed nothing within"):
            harness.first_line(process, timeout=0.3)
        with pytest.raises(subprocess.TimeoutExpired):
            harness.wait_all([process], timeout=0.2)
        assert time.monotonic() - started < 5
    finally:
        harness.stop(process, timeout=5)
    assert process.returncode is not None
