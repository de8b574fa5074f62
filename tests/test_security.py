"""Loading a results folder never runs code from it (issue 14): model files and
checkpoints go through the restricted unpickler, JSON files are validated."""
import json
import os
import pickle
import subprocess
import sys

import pytest
import torch

import main
import main_viz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["-d", "xyobject", "-l", "betaH", "-e", "1", "-b", "4", "-z", "3", "--no-test", "--no-progress-bar",
         "-L", "warning"]


class Payload:
    """Unpickling this calls open(path, "w"): the file appearing means code ran."""
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return open, (self.path, "w")


def outcome(module, argv, capsys):
    try:
        code = module.run_cli(module.main, argv)
    except SystemExit as exit_:
        code = exit_.code
    return code, capsys.readouterr().err.strip()


@pytest.fixture
def trained(tiny_run):
    return tiny_run("safe")  # a checkpoint at step 2


def assert_refused(code, err, sentinel, filename):
    assert code == 2, err
    assert len(err.splitlines()) == 1 and filename in err and "may contain code" in err, err
    assert not os.path.exists(sentinel), "the payload ran"


@pytest.mark.parametrize("wrap", [lambda p: p, lambda p: {"encoder.conv1.weight": p}], ids=["bare", "nested"])
def test_payload_model_is_refused_by_viz_and_eval(trained, tmp_path, capsys, wrap):
    sentinel = tmp_path / "pwned"
    torch.save(wrap(Payload(sentinel)), trained / "model.pt")
    assert_refused(*outcome(main_viz, ["safe", "all"], capsys), sentinel, "model.pt")
    assert_refused(*outcome(main, ["safe", "--is-eval-only"], capsys), sentinel, "model.pt")


def test_raw_pickle_model_is_refused(trained, tmp_path, capsys):
    sentinel = tmp_path / "pwned"
    with open(trained / "model.pt", "wb") as f:
        pickle.dump(Payload(sentinel), f)
    code, err = outcome(main_viz, ["safe", "reconstruct"], capsys)
    assert_refused(code, err, sentinel, "model.pt")


def test_payload_checkpoint_is_refused_by_resume(trained, tmp_path, capsys):
    sentinel = tmp_path / "pwned"
    state = torch.load(trained / "model-step2.pt", weights_only=True)
    state["loss"] = Payload(sentinel)
    torch.save(state, trained / "model-step2.pt")
    code, err = outcome(main, ["safe", "--resume", "--max-steps", "4"], capsys)
    assert_refused(code, err, sentinel, "model-step2.pt")


def test_payload_in_a_real_process(trained, tmp_path):
    """The same through the command line, as a user would meet it."""
    sentinel = tmp_path / "pwned"
    torch.save(Payload(sentinel), trained / "model.pt")
    env = dict(os.environ, PYTHONPATH=ROOT)
    code = (f"import sys, main_viz, disvae.results; disvae.results.RESULTS_DIR = {str(trained.parent)!r}; "
            f"sys.exit(main_viz.run_cli(main_viz.main, ['safe', 'reconstruct']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "may contain code" in out.stderr and not sentinel.exists()


def test_checkpoints_load_with_weights_only(trained):
    """What main.py writes needs nothing beyond the restricted unpickler."""
    for name in ("model.pt", "model-step2.pt"):
        torch.load(trained / name, weights_only=True)


def test_legacy_checkpoint_with_numpy_frames_still_resumes(trained):
    """disvae 0.1.0 stored training.gif frames as numpy arrays: those still resume."""
    from disvae.modelio import load_model
    from disvae.frames import decompress_frame, training_frame
    frame = decompress_frame(training_frame(load_model(str(trained))[0]))
    state = torch.load(trained / "model-step2.pt", weights_only=True)
    state["frames"] = [frame.copy(), 255 - frame]
    torch.save(state, trained / "model-step2.pt")
    with pytest.raises(Exception):  # numpy arrays are outside the default allow-list...
        torch.load(trained / "model-step2.pt", weights_only=True)
    assert main.main(["safe", "--resume", "-e", "2", "--max-steps", "3", "--no-progress-bar"]) == 0  # ...but resumes
    import imageio.v3 as iio
    assert len(iio.imread(trained / "training.gif", index=None)) == 3  # the two old frames and a new one


@pytest.mark.parametrize("change, needle", [
    (lambda s: s.update(loss="evil"), "unknown loss"),
    (lambda s: s.update(dataset="../../etc"), "unknown dataset"),
    (lambda s: s.update(latent_dim="10"), "latent_dim"),
    (lambda s: s.update(img_size=[3, 64]), "img_size"),
    (lambda s: s["args"].update(lr="fast"), "args.lr"),
    (lambda s: s["args"].update(batch_size=-4), "args.batch_size"),
    (lambda s: s["args"].update(no_cuda="yes"), "args.no_cuda"),
    (lambda s: s["args"].update(__import__="os"), "unknown parameter"),
    (lambda s: s["args"].update(rec_dist="gaussian; rm -rf /"), "args.rec_dist"),
    (lambda s: s["args"].update(betaH_B={"a": 1}), "args.betaH_B"),
    (lambda s: s.update(args=[]), "'args'"),
])
def test_bad_specs_json_one_line(trained, capsys, change, needle):
    path = trained / "specs.json"
    specs = json.loads(path.read_text())
    change(specs)
    path.write_text(json.dumps(specs))
    for module, argv in ((main_viz, ["safe", "reconstruct"]), (main, ["safe", "--is-eval-only"]),
                         (main, ["safe", "--resume", "--max-steps", "4"])):
        code, err = outcome(module, argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1 and needle in err and "specs.json" in err, err


@pytest.mark.parametrize("content", ['{"latest": "../../../etc/passwd"}', '{"latest": 5}', "[1, 2]", "{not json"])
def test_bad_checkpoint_pointer_one_line(trained, capsys, content):
    (trained / "checkpoint.json").write_text(content)
    code, err = outcome(main, ["safe", "--resume", "--max-steps", "4"], capsys)
    assert code == 2 and len(err.splitlines()) == 1 and "checkpoint.json" in err, err


@pytest.mark.parametrize("name", ["../outside", "a/b", ".hidden", "x;touch y"])
def test_run_names_stay_inside_results(results_dir, capsys, name):
    code, err = outcome(main, [name, *QUICK, "--max-steps", "1"], capsys)
    assert code == 2 and "run name" in err
    code, err = outcome(main_viz, [name, "all"], capsys)
    assert code == 2 and "run name" in err
