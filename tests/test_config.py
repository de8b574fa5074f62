"""Options declared once (disvae/options.py, each loss, each dataset), merged with
hyperparam.ini (disvae/config.py), read back from specs.json (disvae/results.py)."""
import json
import os
import re
import zlib

import numpy as np
import pytest

import disvae.config
import main
from disvae.config import all_options, experiment_values, read_config, run_parameters, split_experiment
from disvae.datasets import DATASETS
from disvae.errors import DisvaeError
from disvae.losses import LOSSES
from disvae.losses.base import BaseLoss
from disvae.options import Option, check_value, non_negative
from disvae.results import SPECS_FORMAT, read_specs
from utils.cli import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["-e", "1", "--max-steps", "1", "-b", "4", "-z", "2", "--no-test", "--no-progress-bar", "-L", "warning"]


def test_custom_section_agrees_with_the_declared_defaults():
    """[Custom] holds the reference toolkit's defaults; each must equal the default declared
    with its option, so that an ini without the line behaves the same."""
    options = {o.ini_key or o.name: o for o in all_options().values()}
    custom = experiment_values(read_config(), "custom", LOSSES, DATASETS)
    for key, value in custom.items():
        if key == "experiment":
            continue
        declared = options[key].default
        parsed = check_value(options[key], value, "test")
        assert parsed == (options[key].parse(str(declared)) if options[key].parse and declared is not None
                          else declared), key


# the loss lines of the reference toolkit's hyperparam.ini [Custom] (../shared/seeds/002_*), which
# the losses declare as their options' defaults and this toolkit's [Custom] no longer repeats
REFERENCE_LOSS_DEFAULTS = {"betaH_B": 4, "betaB_initC": 0, "betaB_finC": 25, "betaB_G": 1000, "factor_G": 6,
                           "lr_disc": 5e-5, "btcvae_A": 1, "btcvae_G": 1, "btcvae_B": 6}


def test_losses_declare_the_reference_defaults_and_their_constructors_take_them():
    options = all_options()
    assert {key: options[key].default for key in REFERENCE_LOSS_DEFAULTS} == REFERENCE_LOSS_DEFAULTS
    for name, cls in LOSSES.items():
        loss = cls(**{key: 100 for key in cls.context})  # every option argument left to its declaration
        assert {arg: vars(loss).get(arg, option.default) for arg, option in cls.options.items()} == \
            {arg: option.default for arg, option in cls.options.items()}, name
    assert LOSSES["betaH"](2.0).beta == 2.0 and LOSSES["betaH"](beta=3.0).beta == 3.0  # given values win


def test_every_experiment_sets_only_options_of_its_own_loss_and_dataset():
    """A section that sets a loss's or a dataset's option trains that loss on that dataset
    (adatvae_unsup_* once set adatvae's options on the default betaB and mnist)."""
    parser = read_config()
    owners = {option.name: ("loss", name) for name, cls in LOSSES.items() for option in cls.options.values()}
    owners.update({option.name: ("dataset", name) for name, cls in DATASETS.items() for option in cls.options.values()})
    for experiment in disvae.config.offered_experiments(parser):
        if not parser.has_section(experiment):
            continue
        params = run_parameters({"experiment": experiment})
        for key in parser[experiment]:
            kind, owner = owners.get(key, (None, None))
            assert kind is None or owner == getattr(params, kind), (experiment, key, params.loss, params.dataset)


def test_every_flag_is_declared_once_and_every_option_has_help():
    flags = [flag for o in all_options().values() for flag in (*o.cli_flags, *o.aliases)]
    assert len(flags) == len(set(flags))
    assert all(o.help.strip() for o in all_options().values())
    help_text = main.build_parser().format_help()
    for option in all_options().values():  # the CLI is generated from every declaration
        assert option.flag in help_text or option.kind == "positional"


def test_split_experiment_with_underscores_in_loss_and_dataset():
    losses, datasets = ["beta", "beta_x", "my_loss"], ["dsprites", "dsprites_color"]
    assert split_experiment("my_loss_dsprites_color", losses, datasets) == ("my_loss", "dsprites_color")
    assert split_experiment("beta_x_dsprites", losses, datasets) == ("beta_x", "dsprites")
    assert split_experiment("beta_dsprites", losses, datasets) == ("beta", "dsprites")
    assert split_experiment("my_dsprites", losses, datasets) is None


class ScaledELBO(BaseLoss):
    """A loss added as a test would add it: a name with `_`, one declared option."""
    name = "scaled_elbo"
    options = {"scale": Option("scaled_elbo_scale", 2.0, "KL weight.", non_negative(float))}

    def __init__(self, scale=2.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def compute(self, model, x):
        rec, kl_per_dim, _, _ = self.vae_terms(model, x)
        loss = rec + self.scale * kl_per_dim.sum()
        return loss, self.base_logs(loss, rec, kl_per_dim)


def test_a_new_loss_is_one_class_with_its_options(results_dir, monkeypatch):
    """Registered, its option appears on the command line with its default, `-x
    scaled_elbo_xyobject` is an experiment (loss name with `_`), and it trains."""
    monkeypatch.setitem(LOSSES, "scaled_elbo", ScaledELBO)
    params = main.parse_arguments(["-x", "scaled_elbo_xyobject", "--scaled-elbo-scale", "3"])
    assert (params.loss, params.dataset, params.scaled_elbo_scale) == ("scaled_elbo", "xyobject", 3.0)
    assert main.parse_arguments(["-l", "scaled_elbo"]).scaled_elbo_scale == 2.0
    assert main.main(["mine", "-x", "scaled_elbo_xyobject", *QUICK]) == 0
    assert read_specs(str(results_dir / "mine"))["args"]["scaled_elbo_scale"] == 2.0


def test_bf16_is_an_alias_of_precision_bf16(capsys):
    assert main.parse_arguments(["--bf16"]).precision == "bf16"
    assert main.parse_arguments(["--precision", "bf16", "--bf16"]).precision == "bf16"
    assert main.parse_arguments(["--precision", "auto"]).precision == "auto"
    for argv in (["--bf16", "--precision", "fp32"], ["--precision", "fp32", "--bf16"]):
        with pytest.raises(SystemExit) as stop:
            main.parse_arguments(argv)
        assert stop.value.code == 2 and "conflicts" in capsys.readouterr().err


def test_ini_and_specs_values_go_through_one_validator(tmp_path, monkeypatch, results_dir, capsys):
    """The same bad value is refused with the same reason in hyperparam.ini and in specs.json."""
    assert main.main(["run", "-d", "xyobject", "-l", "betaH", *QUICK]) == 0
    specs = json.loads((results_dir / "run" / "specs.json").read_text())
    specs["args"]["lr"] = -2.0
    (results_dir / "run" / "specs.json").write_text(json.dumps(specs))
    with pytest.raises(DisvaeError) as err:
        read_specs(str(results_dir / "run"))
    ini = open(disvae.config.CONFIG_FILE).read().replace("lr = 5e-4\n", "lr = -2.0\n", 1)
    (tmp_path / "hyperparam.ini").write_text(ini)
    monkeypatch.setattr(disvae.config, "CONFIG_FILE", str(tmp_path / "hyperparam.ini"))
    assert run_cli(main.main, ["x"]) == 2
    ini_error = capsys.readouterr().err
    reason = "is not valid (expected a positive float, got '-2.0')"
    assert reason in ini_error and reason in str(err.value)


def test_specs_format_migrates_and_refuses_newer(results_dir):
    """Format 1 (no "format" key, a separate bf16 flag) reads as format 2 with --precision bf16;
    a newer format is refused in one line; main.py writes the current format, without bf16."""
    assert main.main(["run", "-d", "xyobject", "-l", "betaH", *QUICK]) == 0
    path = results_dir / "run" / "specs.json"
    written = json.loads(path.read_text())
    assert written["format"] == SPECS_FORMAT == 2 and "bf16" not in written["args"]
    old = dict(written, args=dict(written["args"], bf16=True, precision="fp32"))
    del old["format"]
    path.write_text(json.dumps(old))
    specs = read_specs(str(results_dir / "run"))
    assert specs["format"] == 2 and specs["args"]["precision"] == "bf16" and "bf16" not in specs["args"]
    path.write_text(json.dumps(dict(written, format=3)))
    with pytest.raises(DisvaeError, match="unknown format 3"):
        read_specs(str(results_dir / "run"))


def test_shipped_specs_of_format_1_still_read():
    specs = read_specs(os.path.join(ROOT, "results", "adatvae_xyobject"))
    assert specs["format"] == SPECS_FORMAT and specs["args"]["precision"] in ("fp32", "bf16")


def test_metric_families_are_seeded_by_name(tiny_run):
    """A family's numbers depend on its name, not on its place in the registry: with every
    other family removed from the registry (SAP moves from third to first) its value is unchanged."""
    from disvae import metrics
    from disvae.evaluate import write_metrics
    from disvae.modelio import load_model
    from disvae.datasets import load_dataset_of_run
    folder = tiny_run("seeded")
    model, specs = load_model(str(folder))
    dataset = load_dataset_of_run(specs["args"])
    first = write_metrics(model, dataset, str(folder), "cpu", ["mig", "sap"], seed=3, n_samples=400)
    assert metrics.family_rng(3, "sap").integers(1 << 30) == \
        np.random.default_rng([3, zlib.crc32(b"sap")]).integers(1 << 30)
    registered = dict(metrics.METRICS)
    try:  # the other families unregistered (restored in their order after: monkeypatch.delitem would append them)
        for name in [n for n in registered if n != "sap"]:
            del metrics.METRICS[name]
        assert list(metrics.METRICS) == ["sap"]
        os.remove(folder / "metrics.log")
        alone = write_metrics(model, dataset, str(folder), "cpu", ["sap"], seed=3, n_samples=400)
    finally:
        metrics.METRICS.clear()
        metrics.METRICS.update(registered)
    assert alone["sap"] == first["sap"]


def test_the_library_raises_its_own_errors_and_nothing_imports_main():
    """disvae/ never imports the command-line helpers (utils/cli.py), and no module (library,
    utils, bin scripts, main_viz.py) imports main.py."""
    sources = []
    for top in ("disvae", "utils", "bin"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            sources += [os.path.join(folder, f) for f in files if f.endswith(".py")]
    sources.append(os.path.join(ROOT, "main_viz.py"))
    for path in sources:
        text = open(path).read()
        assert not re.search(r"^\s*(from main import|import main\b)", text, re.M), path
        if os.sep + "disvae" + os.sep in path:
            assert "utils.cli" not in text, path


def test_params_are_a_namespace_of_every_option():
    params = run_parameters({"loss": "btcvae", "dataset": "dsprites"})
    assert set(all_options()) <= set(vars(params)) and params.typed == ["dataset", "loss"]
    assert params.btcvae_B == 6.0 and params.dipvaeI_lambda_od == 10.0
