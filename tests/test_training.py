"""Trainer: files, checkpoints, bit-exact resume, interruption, NaN stop, archiving."""
import csv
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
from disvae.losses import LOSSES
from disvae.results import read_specs
from disvae.training import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["-d", "xyobject", "-e", "1", "-b", "8", "-z", "4", "--no-test", "--no-progress-bar", "-L", "warning"]


def train(name, loss, *extra):
    return main.main([name, "-l", loss, *QUICK, *extra])


def weights(results_dir, name, filename="model.pt"):
    return torch.load(os.path.join(results_dir, name, filename))


def test_run_writes_every_file(results_dir):
    assert train("files", "betaB", "--max-steps", "6", "--checkpoint-steps", "3") == 0
    folder = results_dir / "files"
    assert {"model.pt", "specs.json", "train_losses.log", "training.gif", "checkpoint.json"} <= set(os.listdir(folder))
    specs = read_specs(str(folder))
    assert specs["status"] == "done" and specs["global_step"] == 6 and specs["args"]["loss"] == "betaB"
    assert specs["img_size"] == [3, 64, 64] and "torch" in specs["versions"]
    rows = list(csv.reader((folder / "train_losses.log").open()))
    assert rows[0] == ["Epoch", "Loss", "Value"]
    names = {row[1] for row in rows[1:]}
    assert {"loss", "recon_loss", "kl_loss", "kl_loss_3", "capacity"} <= names
    assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]
    checkpoint = torch.load(folder / "model-step6.pt", weights_only=True)
    assert {"model", "optimizer", "loss", "loader", "ranks", "global_step"} <= set(checkpoint)
    assert not (folder / "model-step3.pt").exists()  # only the newest step checkpoint is kept


def interrupt_at(monkeypatch, step):
    original = Trainer.train_step

    def step_then_signal(self, x):
        original(self, x)
        if self.global_step + 1 == step:
            self.stops.signal = signal.SIGINT
    monkeypatch.setattr(Trainer, "train_step", step_then_signal)


@pytest.mark.parametrize("loss", LOSSES)
def test_resume_after_interrupt_is_bit_exact(results_dir, monkeypatch, loss):
    assert train("straight", loss, "--max-steps", "9", "--log-every", "2") == 0
    with monkeypatch.context() as patch:
        interrupt_at(patch, 5)
        assert train("cut", loss, "--max-steps", "9", "--log-every", "2") == 130
    assert (results_dir / "cut" / "model-step5.pt").exists() and not (results_dir / "cut" / "model.pt").exists()
    assert main.main(["cut", "--resume", "--no-progress-bar"]) == 0
    straight, resumed = weights(results_dir, "straight"), weights(results_dir, "cut")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert (results_dir / "straight" / "train_losses.log").read_text() == \
        (results_dir / "cut" / "train_losses.log").read_text()
    straight_rows, cut_rows = step_rows(results_dir, "straight"), step_rows(results_dir, "cut")
    assert [r["step"] for r in cut_rows] == ["2", "4", "6", "8", "9"]  # no duplicate, none missing
    assert straight_rows == cut_rows


def step_rows(results_dir, name):
    """train_steps.csv rows without the wall time (the one column a resume may change)."""
    with open(results_dir / name / "train_steps.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in csv.DictReader(f)]


def test_step_log_means_match_a_direct_computation(results_dir):
    """Each train_steps.csv row is the mean of its window of steps: the per-step losses
    of a --log-every 1 run averaged by hand equal the --log-every 3 rows."""
    assert train("every1", "betaH", "--max-steps", "7", "--log-every", "1") == 0
    assert train("every3", "betaH", "--max-steps", "7", "--log-every", "3") == 0
    ones = [float(r["loss"]) for r in step_rows(results_dir, "every1")]
    threes = step_rows(results_dir, "every3")
    assert [r["step"] for r in threes] == ["3", "6", "7"]
    expected = [sum(ones[0:3]) / 3, sum(ones[3:6]) / 3, ones[6]]
    assert [float(r["loss"]) for r in threes] == pytest.approx(expected, rel=1e-5)
    assert float(threes[1]["epoch"]) == pytest.approx(6 / 9375)  # xyobject: 75,000 images, batches of 8


def test_a_step_row_cut_short_by_a_crash_is_left_out(tmp_path):
    """train_steps.csv is appended row by row: a row whose line end never reached the
    disk is not read (nor kept by a --resume, which rewrites the rows it keeps)."""
    from disvae.results import read_train_steps
    (tmp_path / "train_steps.csv").write_text("step,epoch,wall_time_s,loss\n100,0.1,5.0,12.5\n"
                                              "200,0.2,10.0,11.25\n300,0.3,1")
    rows = read_train_steps(str(tmp_path))
    assert [(r["step"], r["loss"]) for r in rows] == [(100, 12.5), (200, 11.25)]


def test_compiled_step_trains_the_same_model(results_dir, monkeypatch):
    """--compile runs the step through torch.compile (here its eager backend: the graph
    capture without the compiler, which a test cannot wait for) and trains the same weights."""
    compiled = []

    def compile_eager(model, **kwargs):
        compiled.append(model)
        return original(model, backend="eager")
    original = torch.compile
    monkeypatch.setattr(torch, "compile", compile_eager)
    assert train("plain", "btcvae", "--max-steps", "3") == 0
    assert train("compiled", "btcvae", "--max-steps", "3", "--compile") == 0
    assert len(compiled) == 1
    plain, traced = weights(results_dir, "plain"), weights(results_dir, "compiled")
    assert all(torch.allclose(plain[k], traced[k], atol=1e-5) for k in plain)


def test_eta_counts_the_budget():
    from disvae.stops import eta_seconds, format_duration
    assert eta_seconds(100, 0.5) == 50
    assert eta_seconds(100, 0.5, seconds_left=20) == 20  # --max-minutes ends the run first
    assert eta_seconds(100, 0.5, seconds_left=-3) == 0
    assert format_duration(3725) == "1:02:05" and format_duration(65) == "01:05"


def test_progress_total_is_the_whole_run(results_dir, monkeypatch):
    totals = []
    original = Trainer.train

    def recording(self, epochs):
        try:
            original(self, epochs)
        finally:
            totals.append((self.progress.total, len(self.loader)))
    monkeypatch.setattr(Trainer, "train", recording)
    assert train("bar", "betaH", "--max-steps", "5") == 0
    assert train("bar2", "betaH", "-e", "3", "--max-minutes", "0.001") == 0
    assert totals[0] == (5, totals[0][1]) and totals[1][0] == 3 * totals[1][1]


def test_resume_across_epochs_from_epoch_checkpoint(results_dir, tmp_path):
    import numpy as np
    from PIL import Image
    images = tmp_path / "images"
    images.mkdir()
    for i in range(20):
        Image.fromarray((np.random.default_rng(i).random((16, 16)) * 255).astype(np.uint8)).save(images / f"{i}.png")
    args = ["-d", "imagefolder", "--data-root", str(images), "-b", "8", "-z", "3", "--no-test",
            "--no-progress-bar", "-L", "warning", "--checkpoint-every", "1"]
    assert main.main(["two", "-l", "btcvae", "-e", "3", *args]) == 0
    assert main.main(["one", "-l", "btcvae", "-e", "1", *args]) == 0
    assert main.main(["one", "--resume", "-e", "3"]) == 0
    a, b = weights(results_dir, "two"), weights(results_dir, "one")
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = (results_dir / "one" / "train_losses.log").read_text()
    assert log == (results_dir / "two" / "train_losses.log").read_text() and "\n3,loss," in log


def test_a_run_killed_during_its_metrics_resumes_with_its_partial_epoch_logged(results_dir):
    """A budget stop mid-epoch logs the partial epoch (a train_losses.log row, a GIF frame);
    killed later, during its metrics, the run's --resume has nothing left to train and must
    write the same row and frame again, not drop them."""
    import imageio.v3 as iio
    assert train("stopped", "betaH", "--max-steps", "3", "--is-metrics", "--metrics", "research",
                 "--metrics-samples", "100") == 0
    folder = results_dir / "stopped"
    log = (folder / "train_losses.log").read_text()
    frames = iio.imread(folder / "training.gif", index=None)
    assert "\n1,loss," in log and frames.shape[0] == 1
    specs = json.loads((folder / "specs.json").read_text())
    (folder / "specs.json").write_text(json.dumps(dict(specs, status="running")))  # as if killed in its metrics
    assert main.main(["stopped", "--resume"]) == 0
    assert (folder / "train_losses.log").read_text() == log
    assert np.array_equal(iio.imread(folder / "training.gif", index=None), frames)
    assert read_specs(str(folder))["status"] == "done"


def test_nan_loss_stops_and_keeps_last_good_checkpoint(results_dir, monkeypatch):
    from disvae.losses.betah import BetaHLoss
    original = BetaHLoss.compute

    def poisoned(self, model, x):
        loss, logs = original(self, model, x)
        if self.n_train_steps >= 3:
            loss = loss * float("nan")
            logs["loss"] = loss.detach()
        return loss, logs
    monkeypatch.setattr(BetaHLoss, "compute", poisoned)
    assert train("nan", "betaH", "--max-steps", "8", "--checkpoint-steps", "2") == 3
    folder = results_dir / "nan"
    assert (folder / "model-step2.pt").exists() and not (folder / "model.pt").exists()


def test_existing_results_are_never_destroyed(results_dir, capsys):
    assert train("keep", "betaH", "--max-steps", "2") == 0
    original = (results_dir / "keep" / "model.pt").read_bytes()
    assert main.run_cli(main.main, ["keep", "-l", "betaH", *QUICK, "--max-steps", "2"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert (results_dir / "keep" / "model.pt").read_bytes() == original
    assert train("keep", "betaH", "--max-steps", "2", "--archive") == 0
    archived = [p for p in results_dir.iterdir() if p.name.startswith("keep.")]
    assert len(archived) == 1 and (archived[0] / "model.pt").read_bytes() == original


def test_sigint_in_a_real_process_then_resume(tmp_path):
    """A real SIGINT during training saves a checkpoint; --resume completes the folder."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", DISVAE_RESULTS=str(tmp_path))
    name = "sigint_test"
    folder = os.path.join(tmp_path, name)
    cmd = [sys.executable, os.path.join(ROOT, "main.py"), name, "-d", "dsprites", "-l", "factor", "-b", "16",
           "--max-steps", "2000", "--no-progress-bar", "--no-test"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not os.path.exists(os.path.join(folder, "specs.json")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    done = subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), name, "--resume", "--max-steps",
                           str(json.load(open(os.path.join(folder, "checkpoint.json")))["global_step"] + 5),
                           "--no-progress-bar"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert {"model.pt", "train_losses.log", "training.gif", "specs.json"} <= set(os.listdir(folder))


def test_max_minutes_stops_a_long_run(results_dir):
    assert train("timed", "betaH", "-e", "1000", "--max-minutes", "0.02") == 0
    specs = read_specs(str(results_dir / "timed"))
    assert specs["status"] == "done" and 0 < specs["global_step"] < 1000 * 9375


@pytest.mark.parametrize("loss", LOSSES)
def test_higgins_mlp_trains_with_every_loss(results_dir, loss):
    """-m Higgins: one training step runs with finite weights, the folder reloads into the
    same architecture, and the parameter count is the closed form of the 1200-unit MLP."""
    from disvae.modelio import load_model
    assert train(f"mlp_{loss}", loss, "-m", "Higgins", "--max-steps", "1") == 0
    model, specs = load_model(str(results_dir / f"mlp_{loss}"))
    pixels, z, h = 3 * 64 * 64, 4, 1200
    encoder = (pixels * h + h) + (h * h + h) + (h * 2 * z + 2 * z)
    decoder = (z * h + h) + 2 * (h * h + h) + (h * pixels + pixels)
    assert sum(p.numel() for p in model.parameters()) == encoder + decoder
    assert specs["model_type"] == "Higgins" and specs["global_step"] == 1
    assert type(model.encoder).__name__ == "EncoderHiggins"
    with torch.no_grad():
        logits, (mean, _), _ = model.eval()(torch.rand(2, 3, 64, 64))
    assert logits.shape == (2, 3, 64, 64) and mean.shape == (2, z)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_tensorboard_without_the_package_is_one_line_before_training(results_dir, monkeypatch):
    from disvae.errors import DisvaeError
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if not installed
    with pytest.raises(DisvaeError, match="needs the tensorboard package: pip install tensorboard"):
        train("tb", "betaH", "--max-steps", "2", "--tensorboard")
    assert not (results_dir / "tb").exists()


def test_tensorboard_logs_the_step_terms_and_the_frames(results_dir):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    assert train("tb", "betaH", "--max-steps", "4", "--log-every", "2", "--tensorboard") == 0
    events = EventAccumulator(str(results_dir / "tb" / "tensorboard")).Reload()
    losses = [(e.step, e.value) for e in events.Scalars("train/loss")]
    rows = step_rows(results_dir, "tb")
    assert losses == [(int(r["step"]), pytest.approx(float(r["loss"]), rel=1e-6)) for r in rows]
    assert [e.step for e in events.Images("traversals")] == [1]


def test_metric_curve_rows_are_the_metrics_of_each_epochs_weights(results_dir):
    """--metrics-every 1: one metrics_curve.csv row per epoch, at the epoch's step; the last
    row is the final weights' metrics, computed by the same seeding as metrics.log's."""
    from disvae.results import read_metric_curve, read_metrics
    tiny = ["-d", "xysquares", "--xysquares-spacing", "56", "-b", "16", "-z", "3", "--no-test",  # 64 images
            "--no-progress-bar", "-L", "warning", "--metrics", "mig", "research", "--metrics-samples", "64"]
    assert main.main(["curve", "-l", "betaH", "-e", "2", "--metrics-every", "1", "--is-metrics", *tiny]) == 0
    rows = read_metric_curve(str(results_dir / "curve"))
    assert [(row["epoch"], row["step"]) for row in rows] == [(1, 4), (2, 8)]
    final = read_metrics(str(results_dir / "curve"))
    for key in ("mig_histogram", "mig_sampled", "axis_alignment_ratio", "gt_correlation"):
        assert rows[-1][key] == pytest.approx(final[key], abs=1e-12), key
    assert rows[0]["wall_time_s"] < rows[1]["wall_time_s"] and rows[0]["metric_seconds"] > 0


def test_metric_curve_row_replaces_its_epoch_and_later_ones(tmp_path):
    """A resumed run computes an epoch's row again: it replaces that epoch's row and drops later ones."""
    from disvae.results import read_metric_curve, write_metric_curve_row
    for epoch in (1, 2, 3):
        write_metric_curve_row(str(tmp_path), {"epoch": epoch, "step": 10 * epoch, "wall_time_s": 1.5, "mig": 0.1})
    write_metric_curve_row(str(tmp_path), {"epoch": 2, "step": 20, "wall_time_s": 2.5, "mig": 0.3, "dci": 0.5})
    assert read_metric_curve(str(tmp_path)) == [
        {"epoch": 1, "step": 10, "wall_time_s": 1.5, "mig": 0.1},
        {"epoch": 2, "step": 20, "wall_time_s": 2.5, "mig": 0.3, "dci": 0.5}]


@pytest.mark.parametrize("experiment", ["adatvae_research_xysquares", "adatvae_research_unsup_xysquares",
                                        "betaH_research_xysquares"])
def test_the_research_protocol_trains_on_standardised_pixels(results_dir, experiment):
    """-x *_research_*: -r mse, 25 latents; the logged reconstruction of the first batch is the
    standardised squared error (test_losses' formula), positive and finite."""
    tiny = ["--xysquares-spacing", "56", "-b", "16", "--max-steps", "2", "--no-test", "--no-progress-bar",
            "-L", "warning"]
    assert main.main(["research", "-x", experiment, *tiny]) == 0
    specs = read_specs(str(results_dir / "research"))
    assert (specs["args"]["rec_dist"], specs["latent_dim"], specs["global_step"]) == ("mse", 25, 2)
    with open(results_dir / "research" / "train_losses.log") as f:
        rows = {row["Loss"]: float(row["Value"]) for row in csv.DictReader(f)}
    assert 0 < rows["recon_loss"] < 1e7


def test_the_claim_script_pairs_each_ada_tvae_run_with_its_beta_vae_at_equal_budget():
    """bin/research_claim.sh -n: per seed, Ada-TVAE and beta-VAE_H on XYObject and dSprites with the
    research's protocol at the same STEPS, then Ada-TVAE on XYSquares; beta-VAE_H's summed beta is
    the research's 0.01 per pixel and latent (pixels / latents from the dataset)."""
    from disvae.datasets import get_dataset
    env = dict(os.environ, STEPS="7", SEEDS="2")
    out = subprocess.run(["bash", os.path.join(ROOT, "bin", "research_claim.sh"), "-n"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 10 and all(line.startswith("python main.py claim_") for line in lines)
    runs = [main.parse_arguments(line.split()[2:]) for line in lines]
    assert [(p.name, p.seed) for p in runs[:5]] == [
        ("claim_adatvae_xyobject", 1234), ("claim_betaH_xyobject", 1234), ("claim_adatvae_dsprites", 1234),
        ("claim_betaH_dsprites", 1234), ("claim_adatvae_xysquares", 1234)]
    assert runs[5].name == "claim_adatvae_xyobject_seed1235" and runs[5].seed == 1235
    for p in runs:
        assert p.name.split("_")[1:3] == [p.loss, p.dataset]
        assert (p.max_steps, p.latent_dim, p.batch_size, p.lr, p.rec_dist) == (7, 25, 256, 1e-3, "mse")
        assert set(p.metrics) == {"mig", "research"}
        if p.loss == "betaH":
            pixels = np.prod(get_dataset(p.dataset).img_size)
            assert p.betaH_B == pytest.approx(0.01 * pixels / 25)
    bad = subprocess.run(["bash", os.path.join(ROOT, "bin", "research_claim.sh"), "-n"],
                         env=dict(env, STEPS="many"), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "STEPS and SEEDS take positive integers" in bad.stderr
