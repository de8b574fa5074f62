"""Importing results folders of the reference toolkit (disvae/reference.py): the converted
model computes what the reference's forward pass computes, and bad folders write nothing."""
import json
import os
import pickle

import pytest
import torch
from torch.nn import functional as F

import main
import main_viz
from disvae.errors import DisvaeError
from disvae.modelio import load_model
from disvae.reference import import_reference
from tests.test_security import Payload, outcome

SHARED_MODELS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "shared",
                             "reference-models")
LATENTS = 3


def reference_state(img_size, generator):
    """A random state dict with the reference toolkit's layer names and shapes."""
    c, h = img_size[0], img_size[1]
    shapes = {"encoder.conv1": (32, c, 4, 4), "encoder.conv2": (32, 32, 4, 4), "encoder.conv3": (32, 32, 4, 4),
              "encoder.lin1": (256, 512), "encoder.lin2": (256, 256), "encoder.mu_logvar_gen": (2 * LATENTS, 256),
              "decoder.lin1": (256, LATENTS), "decoder.lin2": (256, 256), "decoder.lin3": (512, 256),
              "decoder.convT1": (32, 32, 4, 4), "decoder.convT2": (32, 32, 4, 4), "decoder.convT3": (32, c, 4, 4)}
    if h == 64:
        shapes.update({"encoder.conv_64": (32, 32, 4, 4), "decoder.convT_64": (32, 32, 4, 4)})
    state = {}
    for layer, shape in shapes.items():
        out = shape[1] if "convT" in layer else shape[0]
        state[f"{layer}.weight"] = torch.randn(shape, generator=generator) * 0.1
        state[f"{layer}.bias"] = torch.randn(out, generator=generator) * 0.1
    return state


def reference_forward(state, x):
    """The reference toolkit's EncoderBurgess and DecoderBurgess, written out with functional
    calls on its own state dict: (means, log-variances, sigmoid reconstruction of the means)."""
    w = lambda name: (state[f"{name}.weight"], state[f"{name}.bias"])  # noqa: E731
    h = x
    convs = ("encoder.conv1", "encoder.conv2", "encoder.conv3") + (("encoder.conv_64",) if x.shape[-1] == 64 else ())
    for conv in convs:
        h = F.relu(F.conv2d(h, *w(conv), stride=2, padding=1))
    h = h.view(len(x), -1)
    h = F.relu(F.linear(h, *w("encoder.lin1")))
    h = F.relu(F.linear(h, *w("encoder.lin2")))
    mu_logvar = F.linear(h, *w("encoder.mu_logvar_gen")).view(len(x), -1, 2)  # (B, Z, 2) interleaved
    mean, logvar = mu_logvar.unbind(-1)
    d = F.relu(F.linear(mean, *w("decoder.lin1")))
    d = F.relu(F.linear(d, *w("decoder.lin2")))
    d = F.relu(F.linear(d, *w("decoder.lin3"))).view(len(x), 32, 4, 4)
    for conv in (("decoder.convT_64",) if x.shape[-1] == 64 else ()) + ("decoder.convT1", "decoder.convT2"):
        d = F.relu(F.conv_transpose2d(d, *w(conv), stride=2, padding=1))
    return mean, logvar, torch.sigmoid(F.conv_transpose2d(d, *w("decoder.convT3"), stride=2, padding=1))


def write_reference_folder(folder, state, img_size, legacy=True, **specs):
    os.makedirs(folder, exist_ok=True)
    torch.save(state, os.path.join(folder, "model.pt"), _use_new_zipfile_serialization=not legacy)
    arguments = {"dataset": "dsprites" if img_size[1] == 64 else "mnist", "loss": "betaH", "betaH_B": 4,
                 "latent_dim": LATENTS, "img_size": list(img_size), "model_type": "Burgess", "batch_size": 64,
                 "epochs": 30, "lr": 5e-4, "log_level": "info", "name": "x", "rec_dist": "bernoulli", **specs}
    with open(os.path.join(folder, "specs.json"), "w") as f:
        json.dump(arguments, f)
    with open(os.path.join(folder, "train_losses.log"), "w") as f:
        f.write("Epoch,Loss,Value\n0,loss,3.5\n1,loss,2.5\n")
    with open(os.path.join(folder, "test_losses.log"), "w") as f:
        json.dump({"loss": 2.0}, f)


@pytest.mark.parametrize("img_size,legacy", [((1, 64, 64), True), ((1, 32, 32), False)],
                         ids=["64px-legacy", "32px-zip"])
def test_imported_model_computes_the_reference_forward_pass(tmp_path, img_size, legacy):
    state = reference_state(img_size, torch.Generator().manual_seed(0))
    write_reference_folder(tmp_path / "ref", state, img_size, legacy=legacy)
    (tmp_path / "LICENSE").write_text("MIT License\n")
    import_reference(str(tmp_path / "ref"), str(tmp_path / "imported"), license_path=str(tmp_path / "LICENSE"))
    model, specs = load_model(str(tmp_path / "imported"))
    x = torch.rand(5, *img_size, generator=torch.Generator().manual_seed(1))
    mean, logvar, reconstruction = reference_forward(state, x)
    with torch.no_grad():
        logits, (our_mean, our_logvar), z = model(x)
    assert torch.allclose(our_mean, mean, atol=1e-6) and torch.allclose(our_logvar, logvar, atol=1e-6)
    assert torch.equal(z, our_mean)  # eval mode decodes the mean
    assert torch.allclose(torch.sigmoid(logits), reconstruction, atol=1e-6)
    assert specs["status"] == "done" and specs["args"]["betaH_B"] == 4 and specs["args"]["experiment"] == "custom"
    # epochs x ceil(737,280 / 64) on dSprites; unknown for a file-backed dataset without its files
    assert specs["global_step"] == (30 * 11520 if img_size[1] == 64 else None)
    assert specs["imported_from"]["toolkit"] == "YannDubs/disentangling-vae"
    with open(tmp_path / "imported" / "train_losses.log") as f:
        assert f.read().splitlines()[1:] == ["1,loss,3.5", "2,loss,2.5"]  # epochs from 1, as disvae counts
    assert sorted(os.listdir(tmp_path / "imported" / "reference")) == ["LICENSE", "specs.json", "test_losses.log",
                                                                       "train_losses.log"]


@pytest.mark.skipif(not os.path.isdir(SHARED_MODELS), reason="the reference models are not beside the checkout")
def test_a_real_reference_model_imports(tmp_path):
    source = os.path.join(SHARED_MODELS, "VAE_dsprites")
    state = torch.load(os.path.join(source, "model.pt"), weights_only=True)
    import_reference(source, str(tmp_path / "vae"))
    model, _ = load_model(str(tmp_path / "vae"))
    x = torch.zeros(4, 1, 64, 64)
    x[:, :, 20:40, 20:40] = 1
    mean, logvar, reconstruction = reference_forward(state, x)
    with torch.no_grad():
        logits, (our_mean, our_logvar), _ = model(x)
    assert torch.allclose(our_mean, mean, atol=1e-5) and torch.allclose(our_logvar, logvar, atol=1e-5)
    assert torch.allclose(torch.sigmoid(logits), reconstruction, atol=1e-5)


def assert_nothing_written(results):
    assert not [name for name in os.listdir(results) if name not in ("ref", "src", "LICENSE")], os.listdir(results)


def test_bad_reference_folders_end_in_one_line_and_write_nothing(tmp_path):
    state = reference_state((1, 64, 64), torch.Generator().manual_seed(0))
    src = tmp_path / "src"
    # neither format
    os.makedirs(src)
    (src / "notes.txt").write_text("hello")
    with pytest.raises(DisvaeError, match="not a results folder of the reference toolkit"):
        import_reference(str(src), str(tmp_path / "a"))
    # a truncated model.pt
    write_reference_folder(src, state, (1, 64, 64))
    data = (src / "model.pt").read_bytes()
    (src / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(DisvaeError, match="truncated") as err:
        import_reference(str(src), str(tmp_path / "b"))
    assert len(str(err.value).splitlines()) == 1
    # a state dict that is not a reference Burgess model
    del state["encoder.conv_64.weight"]
    write_reference_folder(src, state, (1, 64, 64))
    with pytest.raises(DisvaeError, match="conv_64.weight missing"):
        import_reference(str(src), str(tmp_path / "c"))
    assert_nothing_written(tmp_path)


@pytest.mark.parametrize("legacy", [True, False], ids=["legacy", "zip"])
def test_reference_model_asking_for_code_is_refused(tmp_path, legacy):
    sentinel = tmp_path / "pwned"
    write_reference_folder(tmp_path / "src", {"encoder.conv1.weight": Payload(sentinel)}, (1, 64, 64), legacy=legacy)
    with pytest.raises(DisvaeError, match="may contain code"):
        import_reference(str(tmp_path / "src"), str(tmp_path / "d"))
    assert not sentinel.exists()
    with open(tmp_path / "src" / "model.pt", "wb") as f:  # a raw pickle, not a torch file
        pickle.dump(Payload(sentinel), f)
    with pytest.raises(DisvaeError, match="may contain code"):
        import_reference(str(tmp_path / "src"), str(tmp_path / "d"))
    assert not sentinel.exists()
    assert_nothing_written(tmp_path)


def test_a_reference_folder_given_to_main_or_viz_says_how_to_import_it(results_dir, capsys):
    write_reference_folder(results_dir / "theirs", reference_state((1, 64, 64), torch.Generator().manual_seed(0)),
                           (1, 64, 64))
    for module, argv in ((main_viz, ["theirs", "all"]), (main, ["theirs", "--is-eval-only"])):
        code, err = outcome(module, argv, capsys)
        assert code == 2 and len(err.splitlines()) == 1, err
        assert "bin/import_reference.py" in err and "reference toolkit" in err
