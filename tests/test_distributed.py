"""DistributedDataParallel on CPU with gloo: one betaH step over two processes equals the
single-process step on the combined batch; torchrun writes one complete results folder."""
import os
import shutil
import subprocess

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from disvae.losses.betah import BetaHLoss
from disvae.models import build_model

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def one_step(model, x, train_model=None):
    """One Trainer step (the code main.py runs) with the model in eval mode (z = mean)."""
    from disvae.training import Trainer
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    trainer = Trainer(model, optimizer, BetaHLoss(beta=4.0), loader=None, save_dir=None,
                      train_model=train_model, is_main=False, progress_bar=False)
    trainer._train_step(x)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def worker(rank, world_size, init_file, batch, out_file):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size)
    torch.manual_seed(0)
    model = build_model("Burgess", (1, 32, 32), 4).eval()
    ddp = torch.nn.parallel.DistributedDataParallel(model)
    shard = batch.chunk(world_size)[rank]
    state = one_step(model, shard, ddp)
    if rank == 0:
        torch.save(state, out_file)
    dist.destroy_process_group()


def test_two_process_step_equals_single_process_step(tmp_path):
    torch.manual_seed(1)
    batch = torch.rand(8, 1, 32, 32)
    out_file = str(tmp_path / "ddp.pt")
    mp.spawn(worker, args=(2, str(tmp_path / "init"), batch, out_file), nprocs=2, join=True)
    torch.manual_seed(0)
    single = one_step(build_model("Burgess", (1, 32, 32), 4).eval(), batch)
    distributed = torch.load(out_file)
    for key in single:
        assert torch.allclose(single[key], distributed[key], atol=1e-6), key


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_torchrun_writes_one_complete_results_folder(tmp_path):
    name = "torchrun_test"
    folder = os.path.join(tmp_path, name)
    out = subprocess.run(["torchrun", "--standalone", "--nproc_per_node=2", "main.py", name, "-d", "dsprites",
                          "-l", "btcvae", "-e", "1", "--max-steps", "6", "-b", "16", "--no-test",
                          "--no-progress-bar"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, OMP_NUM_THREADS="1", DISVAE_RESULTS=str(tmp_path)))
    assert out.returncode == 0, out.stderr[-2000:]
    assert {"model.pt", "specs.json", "train_losses.log", "training.gif"} <= set(os.listdir(folder))
    assert "2 process(es)" in out.stderr


@pytest.mark.parametrize("local_rank,per_node", [(1, 2), (0, 3)])
def test_more_processes_than_gpus_is_one_line_before_any_gpu_is_touched(monkeypatch, local_rank, per_node):
    from disvae import distributed
    from disvae.errors import DisvaeError
    monkeypatch.setenv("WORLD_SIZE", str(per_node))
    monkeypatch.setenv("LOCAL_RANK", str(local_rank))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", str(per_node))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    touched = []
    monkeypatch.setattr(torch.cuda, "set_device", touched.append)
    monkeypatch.setattr(dist, "init_process_group", lambda *a, **k: touched.append("group"))
    with pytest.raises(DisvaeError, match=f"started {per_node} processes on this node but 1 GPU"):
        distributed.init_from_env(torch.device("cuda"))
    assert touched == []
