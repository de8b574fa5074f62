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
