"""Shared fixtures: a temporary results folder for every test that runs main.py or
main_viz.py, one tiny trained run per session that tests copy (instead of each training
its own), a guard that no test writes into the repository's results/, and the device:
the CPU for every test but those marked `cuda`, which run only where CUDA is."""
import os
import shutil
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
torch.set_num_threads(2)

import disvae.results  # noqa: E402

REPO_RESULTS = os.path.join(ROOT, "results")
# the session's shared run: betaH on dSprites, 2 steps (a resumable checkpoint at step 2), 4 latents
TINY_RUN = ["-d", "dsprites", "-l", "betaH", "-e", "1", "--max-steps", "2", "--checkpoint-steps", "2", "-b", "16",
            "-z", "4", "--no-test", "--no-progress-bar", "-L", "warning"]


def snapshot(folder):
    """(relative path, size, mtime) of every file below `folder`."""
    return sorted((os.path.relpath(os.path.join(d, f), folder), os.stat(os.path.join(d, f)).st_size,
                   os.stat(os.path.join(d, f)).st_mtime_ns) for d, _, files in os.walk(folder) for f in files)


HAS_CUDA = torch.cuda.is_available()


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs on a CUDA GPU (skipped where there is none)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "cuda" in item.keywords and not HAS_CUDA:
            item.add_marker(pytest.mark.skip(reason="no CUDA GPU here"))


@pytest.fixture(autouse=True)
def cpu_unless_marked_cuda(request, monkeypatch):
    """The suite's device is explicit: every test runs on the CPU, also on a machine with
    a GPU (main.py's --device auto, and the processes tests start, see none), except the
    tests marked cuda."""
    if "cuda" not in request.keywords:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


@pytest.fixture(scope="session", autouse=True)
def repository_results_untouched():
    before = snapshot(REPO_RESULTS)
    yield
    assert snapshot(REPO_RESULTS) == before, "a test wrote into the repository's results/"


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Point main.py / main_viz.py (the library's results folder) at a temporary folder."""
    monkeypatch.setattr(disvae.results, "RESULTS_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="session")
def tiny_run_once(tmp_path_factory):
    """TINY_RUN trained once for the whole session (never modified: tests get copies)."""
    import main
    folder = tmp_path_factory.mktemp("tiny_run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(disvae.results, "RESULTS_DIR", str(folder))
        patch.setattr(torch.cuda, "is_available", lambda: False)
        assert main.main(["tiny", *TINY_RUN]) == 0
    return folder / "tiny"


@pytest.fixture
def tiny_run(tiny_run_once, results_dir):
    """A copy of the session's tiny run as results/<name>/ of this test: tiny_run(name) -> its folder."""
    def copy(name):
        shutil.copytree(tiny_run_once, results_dir / name)
        return results_dir / name
    return copy
