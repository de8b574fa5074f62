"""Ctrl-C outside training (issue 13): evaluation, metrics and plots stop with one line
and exit 130, keep what they finished, and an interrupted evaluation resumes."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import main
import main_viz
from disvae import evaluate
from disvae.metrics import DEFAULT_METRICS, FAMILIES, METRICS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def trained(tiny_run):
    return tiny_run("ev")


def count_calls(monkeypatch):
    """Wrap every metric family so the test sees which ones ran."""
    calls = []
    for name, fn in list(METRICS.items()):
        def wrapped(*args, _name=name, _fn=fn, **kwargs):
            calls.append(_name)
            return _fn(*args, **kwargs)
        monkeypatch.setitem(METRICS, name, wrapped)
    return calls


def run_metrics(*extra):
    return main.main(["ev", "--is-eval-only", "--is-metrics", "--no-test", "--metrics-samples", "300",
                      "--no-progress-bar", "-L", "warning", *extra])


def test_finished_families_are_reused_for_the_same_weights(trained, monkeypatch):
    assert run_metrics("--metrics", "mig", "sap") == 0
    first = json.loads((trained / "metrics.log").read_text())
    assert set(first["families"]) == {"mig", "sap"}
    calls = count_calls(monkeypatch)
    assert run_metrics() == 0
    assert sorted(calls) == sorted(set(DEFAULT_METRICS) - {"mig", "sap"})  # only the missing families ran
    second = json.loads((trained / "metrics.log").read_text())
    assert set(second["families"]) == set(DEFAULT_METRICS)
    assert second["mig"] == first["mig"] and second["seconds"]["sap"] == first["seconds"]["sap"]
    calls.clear()
    assert run_metrics("--metrics", "sap", "--recompute-metrics") == 0
    assert calls == ["sap"]
    calls.clear()
    assert run_metrics("--metrics", "sap", "--metrics-samples", "200") == 0  # other counts: recomputed
    assert calls == ["sap"]
    assert set(json.loads((trained / "metrics.log").read_text())["families"]) == {"sap"}


def test_changed_weights_recompute(trained, monkeypatch):
    assert run_metrics("--metrics", "mig") == 0
    state = torch.load(trained / "model.pt", weights_only=True)
    key = next(iter(state))
    state[key] = state[key] + 1e-3
    torch.save(state, trained / "model.pt")
    calls = count_calls(monkeypatch)
    assert run_metrics("--metrics", "mig") == 0
    assert calls == ["mig"]


def test_family_from_an_older_definition_is_recomputed(trained, monkeypatch):
    """A family written before its definition changed (an older version) is recomputed;
    a record without a version counts as version 1, so unchanged families are kept."""
    assert run_metrics("--metrics", "sap", "research") == 0
    log = json.loads((trained / "metrics.log").read_text())
    assert log["families"]["research"]["version"] == FAMILIES["research"].version > 1
    assert FAMILIES["sap"].version == 1
    log["families"]["research"]["version"] -= 1
    del log["families"]["sap"]["version"]
    (trained / "metrics.log").write_text(json.dumps(log))
    calls = count_calls(monkeypatch)
    assert run_metrics("--metrics", "sap", "research") == 0
    assert calls == ["research"]


def test_weights_checksum_is_independent():
    """The checksum is SHA-256 over names, shapes, dtypes and raw bytes, in name order."""
    import hashlib
    model = torch.nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(torch.arange(6.0).view(3, 2))
        model.bias.zero_()
    digest = hashlib.sha256()
    digest.update(b"bias:(3,):torch.float32;" + np.zeros(3, np.float32).tobytes())
    digest.update(b"weight:(3, 2):torch.float32;" + np.arange(6, dtype=np.float32).tobytes())
    assert evaluate.weights_checksum(model) == digest.hexdigest()


def test_interrupted_plot_keeps_earlier_plots_and_no_partial_file(trained, monkeypatch, capsys):
    from disvae.io import atomic_write
    from utils import visualize

    def interrupted_gif(self):  # the GIF writer is stopped half-way through its file
        def half_written(f):
            f.write(b"GIF89a partial")
            raise KeyboardInterrupt
        atomic_write(self.path("gif-traversals"), half_written)
    monkeypatch.setattr(visualize.Visualizer, "gif_traversals", interrupted_gif)
    assert main_viz.run_cli(main_viz.main, ["ev", "all"]) == 130
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "drawing gif-traversals" in err and "reconstruct.png" in err
    files = os.listdir(trained)
    assert "reconstruct_traverse.png" in files and "posterior_traversals.gif" not in files
    assert not [f for f in files if f.endswith(".tmp")]


def wait_for(predicate, proc, timeout=120):
    deadline = time.time() + timeout
    while not predicate():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


def families(path):
    try:
        return set(json.loads(path.read_text())["families"])
    except (OSError, ValueError, KeyError):
        return set()


def test_real_sigint_during_metrics_then_resume(trained):
    """A real SIGINT while DCI trains: exit 130, one line, metrics.log keeps MIG; the
    next run computes only the families that are missing."""
    log = trained / "metrics.log"
    cmd = [sys.executable, "-c", "import sys, main, disvae.results; disvae.results.RESULTS_DIR = sys.argv[1]; "
           "sys.exit(main.run_cli(main.main, sys.argv[2:]))", str(trained.parent), "ev", "--is-eval-only",
           "--is-metrics", "--no-test", "--metrics-samples", "1500", "--metrics", "mig", "dci", "sap", "--no-progress-bar"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: "mig" in families(log), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted (SIGINT) while computing metric dci" in err, err
    kept = json.loads(log.read_text())
    assert set(kept["families"]) == {"mig"} and 0 <= kept["mig"] <= 1
    assert not [f for f in os.listdir(trained) if f.endswith(".tmp")]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "metric mig: kept" in done.stderr and "metric dci: kept" not in done.stderr
    final = json.loads(log.read_text())
    assert set(final["families"]) == {"mig", "dci", "sap"} and final["mig"] == kept["mig"]


def test_real_sigterm_during_a_plot(trained):
    """SIGTERM while main_viz.py draws: exit 130, one line, the earlier plots kept."""
    script = ("import sys, time, main_viz, disvae.results\n"
              "from utils import visualize\n"
              "disvae.results.RESULTS_DIR = sys.argv[1]\n"
              "def slow(self):\n"
              "    print('drawing gif', flush=True)\n"
              "    time.sleep(60)\n"
              "visualize.Visualizer.gif_traversals = slow\n"
              "sys.exit(main_viz.run_cli(main_viz.main, ['ev', 'all']))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(trained.parent)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or lines[-1] != "drawing gif\n":
        line = proc.stdout.readline()
        assert line, proc.communicate()[1]
        lines.append(line)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted (SIGTERM) while drawing gif-traversals" in err and len(err.strip().splitlines()) == 1
    assert (trained / "reconstruct_traverse.png").exists() and not (trained / "posterior_traversals.gif").exists()
