"""The documents say what the results and the code do: every generated table of README.md
and results/STUDY.md equals what bin/tables.py makes from its source, every shipped model
is in one of them, and the README's Python snippets run as written."""
import os
import re
import subprocess
import sys

import disvae.results
from disvae.results import SHIPPED_MARK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bin"))
import tables  # noqa: E402  (bin/tables.py)

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def test_every_generated_table_equals_its_source(monkeypatch):
    monkeypatch.setattr(disvae.results, "RESULTS_DIR", os.path.join(ROOT, "results"))
    for document in tables.DOCUMENTS:
        text = open(os.path.join(ROOT, document), encoding="utf-8").read()
        assert tables.MARKED.search(text), document
        assert tables.regenerate(text, os.path.dirname(document))[1] == [], f"run python bin/tables.py ({document})"


def test_a_changed_number_is_caught(monkeypatch):
    monkeypatch.setattr(disvae.results, "RESULTS_DIR", os.path.join(ROOT, "results"))
    edited = re.sub(r"(\| \[VAE\]\(results/VAE_dsprites/PRETRAINED\.md\) [^\n]*?\| )(\d\.\d\d)", r"\g<1>9.99",
                    README, count=1)
    assert edited != README and tables.regenerate(edited)[1] != []


SUMMARY = """Over seeds (median [min, max]):

| experiment | seeds | MIG (histogram) | SAP | best seed (MIG) |
|---|---|---|---|---|
| betaH_xysquares_xysquares_spacing-1 | 3 | 0.40 [0.30, 0.50] | - | betaH_xysquares_xysquares_spacing-1_seed1235 |
| betaH_xysquares_xysquares_spacing-2 | 3 | 0.20 [0.10, 0.30] | - | betaH_xysquares_xysquares_spacing-2_seed1234 |
| betaH_xysquares_xysquares_spacing-8 | 2 (+1 unfinished) | 0.05 [0.01, 0.09] | - | betaH_xysquares_xysquares_spacing-8_seed1234 |

Spearman
"""


def test_a_study_of_one_loss_is_tabled_by_its_grid_points(tmp_path):
    (tmp_path / "summary.md").write_text(SUMMARY)
    assert tables.make(f"groups {tmp_path / 'summary.md'}") == (
        "| spacing | seeds | MIG (histogram) |\n|---|---|---|\n| 8 | 2 (+1 unfinished) | 0.05 [0.01, 0.09] |\n"
        "| 2 | 3 | 0.20 [0.10, 0.30] |\n| 1 | 3 | 0.40 [0.30, 0.50] |\n")


def test_groups_named_by_words_keep_their_order_and_the_experiment_column(tmp_path):
    (tmp_path / "summary.md").write_text(SUMMARY.replace("betaH_xysquares_xysquares_spacing-1 ", "claim_betaH_xyobject ")
                                         .replace("betaH_xysquares_xysquares_spacing-2 ", "claim_adatvae_dsprites ")
                                         .replace("betaH_xysquares_xysquares_spacing-8 ", "claim_adatvae_xyobject "))
    assert tables.make(f"groups {tmp_path / 'summary.md'}") == (
        "| experiment | seeds | MIG (histogram) |\n|---|---|---|\n| betaH_xyobject | 3 | 0.40 [0.30, 0.50] |\n"
        "| adatvae_dsprites | 3 | 0.20 [0.10, 0.30] |\n| adatvae_xyobject | 2 (+1 unfinished) | 0.05 [0.01, 0.09] |\n")


def test_a_metric_curve_is_tabled_from_its_csv(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "ROOT", str(tmp_path))
    run = tmp_path / "results" / "chen"
    run.mkdir(parents=True)
    for epoch, mig in ((1, 0.1234), (2, 0.25)):
        disvae.results.write_metric_curve_row(str(run), {"epoch": epoch, "step": 360 * epoch, "wall_time_s": 1800.0 * epoch,
                                                         "mig_chen_no_shape": mig, "dci": 0.5})
    assert tables.make("curve chen") == ("| epoch | step | hours | MIG (Chen, no shape) |\n|---|---|---|---|\n"
                                         "| 1 | 360 | 0.50 | 0.123 |\n| 2 | 720 | 1.00 | 0.250 |\n")


def test_every_shipped_model_is_in_a_generated_table():
    shipped = sorted(name for name in os.listdir(os.path.join(ROOT, "results"))
                     if os.path.exists(os.path.join(ROOT, "results", name, SHIPPED_MARK)))
    listed = {name for document in tables.DOCUMENTS
              for match in tables.MARKED.finditer(open(os.path.join(ROOT, document), encoding="utf-8").read())
              if match.group("spec").startswith("pretrained ") for name in match.group("spec").split()[1:]}
    assert len(shipped) >= 15 and set(shipped) <= listed


def test_the_first_screen_has_the_two_commands_and_their_times():
    first_screen = README[:README.index("## Pretrained models")]
    assert "pip install -r requirements.txt && python main.py -x betaB_dsprites" in first_screen
    assert "pip install -r requirements.txt && python -m pytest -q tests" in first_screen
    assert "5 h 40 min" in first_screen and "--max-minutes" in first_screen


def test_the_python_api_snippets_run_as_written(tmp_path):
    section = README[README.index("## Python API"):README.index("\n## ", README.index("## Python API") + 1)]
    snippets = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(snippets) == 3
    (tmp_path / "results").mkdir()
    os.symlink(os.path.join(ROOT, "results", "btcvae_dsprites"), tmp_path / "results" / "btcvae_dsprites")
    env = dict(os.environ, DISVAE_RESULTS=str(tmp_path / "results"), PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
    out = subprocess.run([sys.executable, "-c", "\n".join(snippets)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[0] == "torch.Size([8, 10])" and lines[1].startswith("MIG 0.") and lines[-1] == "0 20"
    assert not (tmp_path / "results" / "btcvae_dsprites" / "checkpoint.json").exists()
