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
    trainer.train_step(x)
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


@pytest.mark.skipif(shutil.which("torchrun") is None, reason="torchrun not on PATH")
def test_torchrun_resume_restores_each_process_own_generators(tmp_path):
    """Two processes sampling unsupervised triplets (each with its own view generator):
    4 steps, then --resume to 8, give the weights of 8 steps straight."""
    def torchrun(*args):
        out = subprocess.run(["torchrun", "--standalone", "--nproc_per_node=2", "main.py", *args],
                             cwd=ROOT, capture_output=True, text=True, timeout=300,
                             env=dict(os.environ, OMP_NUM_THREADS="1", DISVAE_RESULTS=str(tmp_path)))
        assert out.returncode == 0, out.stderr[-2000:]
    quick = ["-d", "dsprites", "-l", "adatvae", "--adatvae-unsupervised", "--triplet-swap-chance", "0.2",
             "--adatvae-schedule", "none",  # no schedule over the run length: 4 + 4 steps is 8 steps
             "-e", "1", "-b", "8", "-z", "4", "--no-test", "--no-progress-bar", "-L", "warning"]
    torchrun("straight", *quick, "--max-steps", "8")
    torchrun("cut", *quick, "--max-steps", "4")
    torchrun("cut", "--resume", "--max-steps", "8", "--no-progress-bar")
    straight, resumed = (torch.load(tmp_path / name / "model.pt") for name in ("straight", "cut"))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_each_process_resumes_from_its_own_generators(monkeypatch):
    from disvae import training
    from disvae.datasets import BatchLoader, load_dataset
    monkeypatch.setattr(training, "world", lambda: (1, 2))
    loader = BatchLoader(load_dataset("xysquares"), 4)
    trainer = training.Trainer(build_model("Burgess", (3, 64, 64), 4), None, None, loader, None,
                               progress_bar=False)
    states = [{"torch": torch.manual_seed(seed).get_state(), "cuda": None,
               "views": torch.Generator().manual_seed(10 + seed).get_state()} for seed in (0, 1)]
    trainer.load_rank_state({"ranks": states})
    assert torch.equal(torch.get_rng_state(), states[1]["torch"])
    assert torch.equal(loader.view_generator.get_state(), states[1]["views"])
    # a checkpoint from before per-process states: the one state, and a GPU's only if it is there
    trainer.load_rank_state({"rng": {"torch": states[0]["torch"], "cuda": [torch.zeros(8, dtype=torch.uint8)]},
                             "loader": {"views": states[0]["views"]}})
    assert torch.equal(loader.view_generator.get_state(), states[0]["views"])


def test_device_selection_errors_are_one_line(monkeypatch):
    from disvae import distributed
    from disvae.errors import DisvaeError
    from disvae.runtime import get_device
    assert get_device(spec="auto").type == "cpu" and get_device(True, "cuda").type == "cpu"
    with pytest.raises(DisvaeError, match="no CUDA GPU is visible"):
        get_device(spec="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert get_device(spec="cuda:1") == torch.device("cuda", 1)
    with pytest.raises(DisvaeError, match="2 GPU\\(s\\) are visible, cuda:0 to cuda:1"):
        get_device(spec="cuda:2")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(DisvaeError, match="each process takes the GPU of its LOCAL_RANK"):
        distributed.init_from_env(torch.device("cuda", 1))


def test_deterministic_switches_off_autotuning_and_tf32(monkeypatch):
    from disvae.runtime import configure_backends
    for name in ("deterministic", "benchmark", "allow_tf32"):
        monkeypatch.setattr(torch.backends.cudnn, name, getattr(torch.backends.cudnn, name))
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", True)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    try:
        configure_backends(torch.device("cuda"), deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert not torch.backends.cudnn.allow_tf32 and not torch.backends.cuda.matmul.allow_tf32
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    finally:
        torch.use_deterministic_algorithms(False)
    configure_backends(torch.device("cuda"))
    assert torch.backends.cudnn.benchmark
