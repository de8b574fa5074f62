"""main.py end to end: every loss, experiments and precedence, eval-only, bad input."""
import json
import os
import subprocess
import sys

import pytest
import torch

import disvae.config
import disvae.runtime
import main
import main_viz
from disvae.losses import LOSSES
from disvae.results import SHIPPED_MARK
from utils.cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_every_loss_trains_on_dsprites(results_dir, loss):
    assert main.main([f"run_{loss}", "-d", "dsprites", "-l", loss, "-e", "1", "--max-steps", "3", "-b", "8",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    assert {"model.pt", "specs.json", "train_losses.log"} <= set(os.listdir(results_dir / f"run_{loss}"))


def test_unsupervised_adatvae_on_xyobject(results_dir):
    assert main.main(["u", "-d", "xyobject", "-l", "adatvae", "--adatvae-unsupervised", "-e", "1",
                      "--max-steps", "3", "-b", "8", "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    log = (results_dir / "u" / "train_losses.log").read_text()
    for name in ("triplet_loss", "ada_triplet_loss", "shared_dims_an", "shared_dims_ap", "shared_dims_pn"):
        assert f",{name}," in log


def test_experiment_precedence(results_dir):
    args = main.parse_arguments(["-x", "betaB_dsprites"])
    assert (args.name, args.dataset, args.loss, args.epochs, args.checkpoint_every) == \
        ("betaB_dsprites", "dsprites", "betaB", 30, 10)
    assert (args.reg_anneal, args.betaB_finC, args.betaB_G, args.lr) == (100000, 25, 100, 1e-3)
    typed = main.parse_arguments(["mine", "-x", "factor_dsprites", "--lr", "0.01", "-e", "2"])
    assert (typed.name, typed.lr, typed.epochs, typed.factor_G, typed.lr_disc) == ("mine", 0.01, 2, 6.4, 1e-4)
    custom = main.parse_arguments([])
    assert (custom.dataset, custom.loss, custom.batch_size, custom.latent_dim, custom.seed) == \
        ("mnist", "betaB", 64, 10, 1234)
    assert main.parse_arguments(["-l", "btcvae", "-d", "dsprites"]).name == "btcvae_dsprites"
    assert main.parse_arguments(["-x", "best_celeba"]).rec_dist == "laplace"
    # the reference toolkit's current dSprites weights: TC weight 6.4 for FactorVAE and beta-TCVAE
    assert main.parse_arguments(["-x", "btcvae_dsprites"]).btcvae_B == 6.4
    assert main.parse_arguments(["-x", "btcvae_chairs"]).btcvae_B == 3.2
    best = main.parse_arguments(["-x", "best_dsprites"])
    assert (best.loss, best.btcvae_A, best.btcvae_B) == ("btcvae", -5, 10)
    assert main.parse_arguments(["-x", "adatvae_unsup_xyobject"]).adatvae_unsupervised is True
    assert main.parse_arguments(["-s", "None"]).seed is None


def test_shipped_model_is_never_trained_over(results_dir, capsys):
    """A folder with PRETRAINED.md (a shipped model): `-x EXP` trains into my_EXP beside
    it, a typed name is refused in one line, evaluation and plots still use it."""
    shipped = results_dir / "betaH_xyobject"
    shipped.mkdir()
    (shipped / SHIPPED_MARK).write_text("shipped")
    quick = ["-d", "xyobject", "-l", "betaH", "-e", "1", "--max-steps", "2", "-b", "8", "-z", "3", "--no-test",
             "--no-progress-bar", "-L", "warning"]
    assert main.parse_arguments(quick).name == "my_betaH_xyobject"
    assert main.parse_arguments(["-x", "betaB_dsprites"]).name == "betaB_dsprites"  # nothing shipped there
    assert main.parse_arguments([*quick, "--is-eval-only"]).name == "betaH_xyobject"
    assert main.main(quick) == 0
    assert (results_dir / "my_betaH_xyobject" / "model.pt").exists()
    assert os.listdir(shipped) == [SHIPPED_MARK]
    capsys.readouterr()
    assert run_cli(main.main, ["betaH_xyobject", *quick]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pretrained model shipped with disvae" in err
    assert "my_betaH_xyobject" in err and os.listdir(shipped) == [SHIPPED_MARK]


@pytest.fixture
def image_folder(tmp_path):
    import numpy as np
    from PIL import Image
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(20):
        Image.fromarray((np.random.default_rng(i).random((16, 16, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def test_eval_only_writes_test_losses(results_dir, image_folder):
    assert main.main(["ev", "-d", "imagefolder", "--data-root", str(image_folder), "-l", "btcvae", "-e", "1",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    assert main.main(["ev", "--is-eval-only", "--eval-batchsize", "8", "-L", "warning"]) == 0
    losses = json.loads((results_dir / "ev" / "test_losses.log").read_text())
    assert {"loss", "recon_loss", "kl_loss", "mi_loss", "tc_loss", "dw_kl_loss", "kl_loss_9"} <= set(losses)


def test_metrics_log_in_range_for_a_briefly_trained_model(results_dir):
    assert main.main(["met", "-d", "xyobject", "-l", "betaH", "-e", "1", "--max-steps", "20", "-b", "32",
                      "--no-test", "--no-progress-bar", "-L", "warning", "--is-metrics", "--metrics-samples",
                      "500"]) == 0
    metrics = json.loads((results_dir / "met" / "metrics.log").read_text())
    for key in ("mig", "aam", "mig_sampled", "mig_histogram", "dci_disentanglement", "sap", "factor_vae_score",
                "beta_vae_score", "linearity_ratio", "axis_alignment_ratio"):
        assert 0 <= metrics[key] <= 1, key
    assert -1 <= metrics["gt_correlation"] <= 1 and metrics["mig_aam_estimator"] == "histogram"
    assert set(metrics["seconds"]) >= {"mig", "dci", "sap", "factorvae", "betavae", "research", "total"}
    assert "mig_chen" not in metrics  # only when named: hours on a CPU at the standard counts
    assert main.main(["met", "--is-eval-only", "--no-test", "--is-metrics", "--metrics", "mig_chen",
                      "--metrics-samples", "500", "--no-progress-bar", "-L", "warning"]) == 0
    added = json.loads((results_dir / "met" / "metrics.log").read_text())
    assert 0 <= added["mig_chen"] <= 1 and added["mig_chen_points"] == 500 and added["mig"] == metrics["mig"]


def test_test_losses_cover_the_whole_evaluation_set(results_dir, monkeypatch, image_folder):
    seen = []
    from disvae import experiment
    original = experiment.compute_test_losses

    def counting(model, loss_f, loader, device="cpu", progress=False):
        seen.append(sum(len(x) for x in loader.batches(loader.epoch_order())))
        return original(model, loss_f, loader, device, progress)
    monkeypatch.setattr(experiment, "compute_test_losses", counting)
    assert main.main(["whole", "-d", "imagefolder", "--data-root", str(image_folder), "-l", "VAE", "-e", "1",
                      "--eval-batchsize", "7", "--no-progress-bar", "-L", "warning"]) == 0
    assert seen == [20]  # all three batches (7 + 7 + 6), not just the first
    losses = json.loads((results_dir / "whole" / "test_losses.log").read_text())
    assert losses["loss"] > 0


def run_error(argv, capsys, module=main):
    code = None
    try:
        code = run_cli(module.main, argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("argv,needle", [
    (["-e", "0"], "positive"), (["-e", "-3"], "positive"), (["-b", "0"], "positive"), (["-z", "0"], "positive"),
    (["-l", "nope"], "choose from"), (["-d", "nope"], "choose from"), (["-x", "nope"], "choose from"),
    (["-m", "nope"], "choose from"), (["-r", "poisson"], "choose from"), (["--lr", "abc"], "positive"),
])
def test_bad_arguments_one_line_exit_2(argv, needle, capsys):
    code, err = run_error(argv, capsys)
    assert code == 2 and needle in err and len(err.splitlines()) == 1


def test_missing_dataset_files_message(results_dir, tmp_path, capsys):
    code, err = run_error(["m", "-d", "mnist", "--data-root", str(tmp_path), "-e", "1"], capsys)
    assert code == 1 and str(tmp_path) in err and len(err.splitlines()) == 1


def test_eval_only_and_viz_on_folder_without_model(results_dir, capsys):
    (results_dir / "empty").mkdir()
    code, err = run_error(["empty", "--is-eval-only"], capsys)
    assert code == 2 and "specs.json" in err and len(err.splitlines()) == 1
    code, err = run_error(["missing", "all"], capsys, main_viz)
    assert code == 2 and "no results folder" in err
    code, err = run_error(["missing", "nope"], capsys, main_viz)
    assert code == 2 and "invalid choice" in err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a model at all"])
def test_corrupt_or_foreign_model(results_dir, capsys, content):
    assert main.main(["bad", "-d", "xyobject", "-l", "betaH", "-e", "1", "--max-steps", "1", "-b", "4", "-z", "3",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    (results_dir / "bad" / "model.pt").write_bytes(content)
    code, err = run_error(["bad", "all"], capsys, main_viz)
    assert code == 2 and "model.pt" in err and len(err.splitlines()) == 1
    code, err = run_error(["bad", "--is-eval-only"], capsys)
    assert code == 2 and "model.pt" in err


def test_foreign_state_dict(results_dir, capsys):
    import torch
    assert main.main(["foreign", "-d", "xyobject", "-l", "betaH", "-e", "1", "--max-steps", "1", "-b", "4",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    torch.save({"weight": torch.zeros(3)}, results_dir / "foreign" / "model.pt")
    code, err = run_error(["foreign", "reconstruct"], capsys, main_viz)
    assert code == 2 and "does not match" in err


@pytest.mark.parametrize("text", ["[Custom]\n    epochs = 100\n  lr = \n[Custom]\n", "[Custom]\nlr = five\n",
                                  "no section header\n"])
def test_malformed_hyperparam_ini(tmp_path, monkeypatch, capsys, text):
    bad = tmp_path / "hyperparam.ini"
    bad.write_text(text)
    monkeypatch.setattr(disvae.config, "CONFIG_FILE", str(bad))
    code, err = run_error(["x"], capsys)
    assert code == 2 and "hyperparam.ini" in err and len(err.splitlines()) == 1


def test_real_process_prints_no_traceback():
    out = subprocess.run([sys.executable, "main.py", "-x", "nope"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = subprocess.run([sys.executable, "main_viz.py", "does_not_exist_xyz", "all"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_bf16_autocast_trains_every_loss(results_dir, loss):
    assert main.main([f"bf_{loss}", "-d", "xyobject", "-l", loss, "--bf16", "-e", "1", "--max-steps", "2", "-b", "8",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0


AVX2_FLAGS = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n"
BF16_FLAGS = "processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma avx512f avx512_bf16\n"


@pytest.mark.parametrize("flags,expected", [(AVX2_FLAGS, None), (BF16_FLAGS, torch.bfloat16),
                                            ("no flags line\n", None)])
def test_precision_auto_follows_the_cpu_flags(tmp_path, monkeypatch, flags, expected):
    """auto: bf16 only where the CPU has AVX-512 BF16 (or AMX); an AVX2-only CPU emulates bf16
    (measured ~14x slower than float32), so auto trains it in float32."""
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(flags)
    monkeypatch.setattr(disvae.runtime, "CPUINFO", str(cpuinfo))
    assert disvae.runtime.training_dtype("auto", torch.device("cpu")) is expected
    assert disvae.runtime.training_dtype("fp32", torch.device("cpu")) is None
    assert disvae.runtime.training_dtype("bf16", torch.device("cpu")) is torch.bfloat16


@pytest.mark.parametrize("flags,warned", [(AVX2_FLAGS, True), (BF16_FLAGS, False)])
def test_bf16_warns_where_it_is_emulated(results_dir, tmp_path, monkeypatch, caplog, flags, warned):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(flags)
    monkeypatch.setattr(disvae.runtime, "CPUINFO", str(cpuinfo))
    with caplog.at_level("WARNING", logger="disvae"):
        assert main.main(["bfw", "-d", "xyobject", "-l", "betaH", "--precision", "bf16", "-e", "1",
                          "--max-steps", "1", "-b", "4", "--no-test", "--no-progress-bar"]) == 0
    assert any("no native bfloat16" in r.getMessage() for r in caplog.records) is warned


def test_help_names_each_experiment_once(capsys):
    with pytest.raises(SystemExit) as exit_:
        main.main(["-h"])
    out = capsys.readouterr().out
    usage = out[:out.index("\n\n")]
    assert exit_.value.code == 0 and "[-x EXPERIMENT]" in usage and "betaB_dsprites" not in usage
    experiments = disvae.config.offered_experiments(disvae.config.read_config())
    assert len(experiments) > 12 and "dipvaeII_dsprites" in experiments
    flat = " ".join(out.split())  # argparse wraps the help
    assert all(flat.count(f" {name},") + flat.count(f" {name}.") == 1 for name in experiments if name != "custom")
    assert "[-l {adatvae,betaB," in " ".join(usage.split())  # short lists of choices stay in the usage line
