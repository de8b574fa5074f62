import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
torch.set_num_threads(2)


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Point main.py / main_viz.py at a temporary results folder."""
    import main
    import main_viz
    monkeypatch.setattr(main, "RES_DIR", str(tmp_path))
    monkeypatch.setattr(main_viz, "RES_DIR", str(tmp_path))
    return tmp_path
