"""Every stop is resumable, and the bad inputs of a new-user trial end in one line (issue 15)."""
import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

import disvae.config
import main
from disvae.datasets.loaders import BatchLoader
from disvae.losses import LOSSES
from disvae.modelio import load_checkpoint
from disvae.results import read_specs, run_lock
from disvae.training import Trainer

QUICK = ["-d", "xyobject", "-e", "1", "-b", "8", "-z", "3", "--no-test", "--no-progress-bar", "-L", "warning"]


def outcome(argv, capsys):
    try:
        code = main.run_cli(main.main, argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.strip()


def images(tmp_path, n):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(n):
        Image.fromarray((np.random.default_rng(i).random((16, 16)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_resume_uses_the_folder_named_on_the_command_line(results_dir):
    assert main.main(["A", "-l", "betaH", *QUICK, "--max-steps", "3"]) == 0
    before = {f: (results_dir / "A" / f).read_bytes() for f in os.listdir(results_dir / "A")}
    shutil.copytree(results_dir / "A", results_dir / "B")
    assert main.main(["B", "--resume", "--max-steps", "5"]) == 0
    assert {f: (results_dir / "A" / f).read_bytes() for f in os.listdir(results_dir / "A")} == before
    specs = read_specs(str(results_dir / "B"))
    assert specs["global_step"] == 5 and specs["args"]["name"] == "B"


def test_every_stop_is_resumable_and_a_finished_run_extends(results_dir, capsys):
    assert main.main(["s", "-l", "btcvae", *QUICK, "--max-steps", "4"]) == 0
    pointer = json.loads((results_dir / "s" / "checkpoint.json").read_text())
    assert pointer["global_step"] == 4 and (results_dir / "s" / pointer["latest"]).exists()
    code, err = outcome(["s", "--resume"], capsys)
    assert code == 2 and "is finished" in err and len(err.splitlines()) == 1
    assert main.main(["s", "--resume", "--max-steps", "7"]) == 0
    assert read_specs(str(results_dir / "s"))["global_step"] == 7
    assert main.main(["straight", "-l", "btcvae", *QUICK, "--max-steps", "7"]) == 0
    a = torch.load(results_dir / "s" / "model.pt", weights_only=True)
    b = torch.load(results_dir / "straight" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)  # extending equals training that far at once


def test_time_based_checkpoints(results_dir, monkeypatch):
    saved = []
    original = Trainer.save_checkpoint

    def recording(self, filename):
        saved.append(filename)
        return original(self, filename)
    monkeypatch.setattr(Trainer, "save_checkpoint", recording)
    assert main.main(["t0", "-l", "betaH", *QUICK, "--max-steps", "3", "--checkpoint-minutes", "0"]) == 0
    assert saved == ["model-step3.pt"]  # only the end of training
    saved.clear()
    assert main.main(["t1", "-l", "betaH", *QUICK, "--max-steps", "3", "--checkpoint-minutes", "1e-9"]) == 0
    assert saved == ["model-step1.pt", "model-step2.pt", "model-step3.pt", "model-step3.pt"]
    assert sorted(f for f in os.listdir(results_dir / "t1") if f.startswith("model-")) == ["model-step3.pt"]


def test_loader_merges_a_last_batch_of_one():
    from disvae.datasets.synthetic import XYObject
    dataset = XYObject()
    sizes = lambda loader: [len(x) for x in loader.batches(torch.arange(loader.n_examples))]  # noqa: E731
    merged = BatchLoader(dataset, 8, shuffle=False, max_examples=17, min_batch=2)
    assert len(merged) == 2 and sizes(merged) == [8, 9]
    plain = BatchLoader(dataset, 8, shuffle=False, max_examples=17)
    assert len(plain) == 3 and sizes(plain) == [8, 8, 1]
    assert sizes(BatchLoader(dataset, 8, shuffle=False, max_examples=18, min_batch=2)) == [8, 8, 2]
    assert sizes(BatchLoader(dataset, 8, shuffle=False, max_examples=1, min_batch=2)) == [1]


@pytest.mark.parametrize("loss", [name for name, cls in sorted(LOSSES.items()) if cls.min_batch > 1])
def test_minibatch_losses_with_a_last_batch_of_one(results_dir, tmp_path, loss, capsys):
    folder = images(tmp_path, 17)  # batches of 8: 8 + 8 + 1
    assert main.main([loss, "-d", "imagefolder", "--data-root", str(folder), "-l", loss, "-e", "1", "-b", "8",
                      "--eval-batchsize", "8", "-z", "3", "--no-progress-bar", "-L", "warning"]) == 0
    assert json.loads((results_dir / loss / "test_losses.log").read_text())["loss"] > 0
    code, err = outcome(["x", "-l", loss, "-b", "1"], capsys)
    assert code == 2 and "at least 2" in err


def test_checkpoint_size_does_not_grow_with_epochs(results_dir, tmp_path):
    folder = images(tmp_path, 16)
    assert main.main(["size", "-d", "imagefolder", "--data-root", str(folder), "-l", "betaH", "-e", "4", "-b", "8",
                      "-z", "3", "--checkpoint-every", "1", "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    sizes = [os.path.getsize(results_dir / "size" / f"model-{epoch}.pt") for epoch in (1, 4)]
    frames = load_checkpoint(results_dir / "size" / "model-4.pt")["frames"]
    frame_bytes = 3 * 64 * 10 * 64 * 3  # one uncompressed training.gif frame (3 latents x 10 steps)
    assert len(frames) == 4 and all(bytes(f[:8].tolist()) == b"\x89PNG\r\n\x1a\n" for f in frames)
    assert all(len(f) < frame_bytes for f in frames)  # PNG, smaller than the raw frame
    # the three epochs add their three PNG frames, a few log rows and nothing else
    png_bytes = sum(len(f) for f in frames[1:])
    assert png_bytes <= sizes[1] - sizes[0] < png_bytes + 16384


@pytest.mark.parametrize("line, needle", [
    ("lr = -1", "lr"), ("batch_size = 0", "batch_size"), ("dataset = 'mnistt'", "dataset"),
    ("lrr = 0.1", "unknown key 'lrr'"), ("loss = 'betaZ'", "loss"), ("no_cuda = 'yes'", "no_cuda"),
])
def test_bad_ini_values_one_line(tmp_path, monkeypatch, capsys, line, needle):
    ini = open(disvae.config.CONFIG_FILE).read().replace("[Custom]\n", f"[Custom]\n    {line}\n", 1)
    key = line.split(" =")[0]
    ini = "\n".join(l for l in ini.splitlines() if not (l.strip().startswith(key + " ") and l.strip() != line))
    (tmp_path / "hyperparam.ini").write_text(ini)
    monkeypatch.setattr(disvae.config, "CONFIG_FILE", str(tmp_path / "hyperparam.ini"))
    code, err = outcome(["x"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "hyperparam.ini" in err and needle in err, err


def test_a_missing_ini_line_takes_the_declared_default(tmp_path, monkeypatch):
    """An option hyperparam.ini does not mention (here the seed, and every Ada-TVAE option)
    takes the default declared next to its code: a new option needs no ini line."""
    ini = "\n".join(l for l in open(disvae.config.CONFIG_FILE).read().splitlines() if not l.strip().startswith("seed"))
    (tmp_path / "hyperparam.ini").write_text(ini)
    monkeypatch.setattr(disvae.config, "CONFIG_FILE", str(tmp_path / "hyperparam.ini"))
    params = main.parse_arguments(["-x", "adatvae_xyobject"])
    assert params.seed == 1234 and params.adatvae_margin == 10.0 and params.triplet_mode == "manhattan_scaled"


def test_inapplicable_flags_with_resume(results_dir, capsys):
    assert main.main(["r", "-l", "betaH", *QUICK, "--max-steps", "2"]) == 0
    code, err = outcome(["r", "--resume", "--lr", "0.1", "--max-steps", "4"], capsys)
    assert code == 2 and "--lr cannot change with --resume" in err


def test_experiments_that_cannot_run_are_not_offered(capsys):
    code, err = outcome(["-x", "adatvae_mnist"], capsys)
    assert code == 2 and "invalid choice" in err
    assert "adatvae_dsprites" in disvae.config.offered_experiments(disvae.config.read_config())


def test_a_second_concurrent_run_is_refused(results_dir, capsys):
    with run_lock(str(results_dir / "busy")):
        code, err = outcome(["busy", "-l", "betaH", *QUICK, "--max-steps", "1"], capsys)
    assert code == 2 and "in use by pid" in err and not (results_dir / "busy").exists()
    assert main.main(["busy", "-l", "betaH", *QUICK, "--max-steps", "1"]) == 0  # free again


def test_threads_option(results_dir):
    before = torch.get_num_threads()
    try:
        assert main.main(["th", "-l", "betaH", *QUICK, "--max-steps", "1", "--threads", "1"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("err", [OSError(28, "No space left on device"), PermissionError(13, "Permission denied")])
def test_full_disk_or_read_only_results_one_line(results_dir, monkeypatch, capsys, err):
    """A write that fails (full disk, read-only folder) ends in one line; the earlier
    model.pt is intact and no temporary file is left."""
    assert main.main(["full", "-l", "betaH", *QUICK, "--max-steps", "2"]) == 0
    model = (results_dir / "full" / "model.pt").read_bytes()

    def failing_fsync(fd):
        raise err
    monkeypatch.setattr(os, "fsync", failing_fsync)
    code, out = outcome(["full", "--resume", "--max-steps", "4"], capsys)
    assert code == 1 and len(out.splitlines()) == 1 and "cannot write" in out and err.strerror in out, out
    assert (results_dir / "full" / "model.pt").read_bytes() == model
    assert not [f for f in os.listdir(results_dir / "full") if f.endswith(".tmp")]


@pytest.mark.parametrize("dataset, setup, needle", [
    ("imagefolder", lambda root: (root / "bad.png").write_text("not an image"), "bad.png is not a readable image"),
    ("celeba", lambda root: (root / "img_align_celeba.zip").write_bytes(b"PK garbage"), "not a readable zip"),
    ("mnist", lambda root: [(root / "MNIST" / "raw").mkdir(parents=True)] + [
        (root / "MNIST" / "raw" / f).write_bytes(os.urandom(64)) for f in (
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte")], "not a readable MNIST"),
])
def test_corrupt_dataset_files_one_line(results_dir, tmp_path, capsys, dataset, setup, needle):
    root = images(tmp_path, 3) if dataset == "imagefolder" else tmp_path
    setup(root)
    code, err = outcome(["c", "-d", dataset, "--data-root", str(root), "-l", "betaH", "-e", "1", "-b", "2",
                         "--no-test", "--no-progress-bar"], capsys)
    assert code == 1 and len(err.splitlines()) == 1 and needle in err, err
