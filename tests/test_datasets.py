"""Ground-truth interface, hand-checked images, sampling properties, file loaders."""
import csv
import gzip
import importlib
import itertools
import os
import struct

import imageio.v3
import numpy as np
import pytest
import torch
from PIL import Image

from disvae.datasets import DATASETS, BatchLoader, DatasetNotFoundError, get_dataset, load_dataset
from disvae.datasets.dsprites import DSprites, check_layout
from disvae.datasets.synthetic import XYObject, XYObjectShaded, XYSquares

GROUND_TRUTH = [name for name, cls in DATASETS.items() if cls.procedural and cls.has_factors]


def load_offline(name, **options):
    """Dataset `name` rendered without any file."""
    return load_dataset(name, **{**DATASETS[name].offline_options, **options})


@pytest.mark.parametrize("name", GROUND_TRUTH)
def test_index_factor_round_trip_and_ranges(name):
    ds = load_offline(name)
    rng = np.random.default_rng(0)
    idx = torch.from_numpy(rng.integers(0, len(ds), 2000))
    classes = ds.index_to_classes(idx)
    assert torch.equal(ds.classes_to_index(classes), idx)
    assert (classes >= 0).all() and (classes < torch.tensor(ds.lat_sizes)).all()
    assert len(ds) == int(np.prod(ds.lat_sizes))
    # flat order: last factor fastest
    assert ds.index_to_classes(torch.tensor([1]))[0].tolist() == [0] * (len(ds.lat_sizes) - 1) + [1]
    images = ds.get_batch(idx[:64])
    assert images.shape == (64, *ds.img_size) and images.min() >= 0 and images.max() <= 1
    image, values = ds[int(idx[0])]
    assert torch.equal(image, images[0]) and values.shape == (len(ds.lat_sizes),)


def test_dsprites_official_facts():
    ds = DSprites()
    assert len(ds) == 737280 and ds.lat_sizes == (3, 6, 40, 32, 32)
    values = ds.factor_values
    assert list(values[0]) == [1, 2, 3]
    assert np.allclose(values[1], [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert values[2][0] == 0 and values[2][-1] == pytest.approx(2 * np.pi) and len(values[2]) == 40
    assert np.allclose(values[3], np.linspace(0, 1, 32))
    images = ds.get_batch(torch.from_numpy(np.random.default_rng(1).integers(0, len(ds), 10000)))
    assert abs(images.mean().item() - 0.0425) < 0.1 * 0.0425
    assert set(images.unique().tolist()) <= {0.0, 1.0}
    assert images[..., 16:48, 16:48].sum() > 0.5 * images.sum()  # most mass in the central half


def test_dsprites_no_pixel_leaves_canvas_at_extremes():
    ds = DSprites()
    corners = [(s, 5, o, x, y) for s in range(3) for o in range(0, 40, 3) for x in (0, 31) for y in (0, 31)]
    images = ds.render(torch.tensor(corners))
    edges = images[..., 0, :].sum() + images[..., -1, :].sum() + images[..., :, 0].sum() + images[..., :, -1].sum()
    assert edges == 0
    per_image = images.flatten(1).sum(1)
    assert (per_image > 200).all()  # the sprite is whole: scale 1 shapes cover ~290 px


def test_dsprites_hand_checked_square():
    # square, scale 1, orientation 0, posX 0, posY 0: centre (16, 16), half side 9.5982 px
    image = DSprites().render(torch.tensor([[0, 5, 0, 0, 0]]))[0, 0]
    expected = torch.zeros(64, 64)
    expected[6:26, 6:26] = 1  # pixel centres j + 0.5 within [6.4018, 25.5982]
    assert torch.equal(image, expected)


def official_frames():
    """The 320 frames of the official dSprites animation (tests/data/dsprites_official/,
    Apache-2.0, Matthey et al. 2017) and their factor classes in our order."""
    folder = os.path.join(os.path.dirname(__file__), "data", "dsprites_official")
    frames = imageio.v3.imread(os.path.join(folder, "dsprites.gif"), index=None)  # (320, 64, 64) uint8
    with open(os.path.join(folder, "dsprites_gif_labels.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    shapes = {"square": 0, "ellipse": 1, "heart": 2}
    classes = torch.tensor([[shapes[r["shape"]], int(r["scale_class"]), int(r["orientation_class"]),
                             int(r["posX_class"]), int(r["posY_class"])] for r in rows])
    return torch.from_numpy(frames > 0), classes


def test_dsprites_renders_the_official_frames():
    frames, classes = official_frames()
    assert frames.shape == (320, 64, 64) and set(classes[:, 0].tolist()) == {0, 1, 2}
    rendered = DSprites().render(classes)[:, 0] > 0.5
    differing = (rendered != frames).flatten(1).sum(1)
    shape = classes[:, 0]
    assert differing[shape == 0].max() == 0  # squares: every pixel
    assert differing[shape == 1].max() == 0  # ellipses: every pixel
    assert differing[shape == 2].max() <= 4  # hearts: a traced outline
    # and through the dataset's flat index, as training sees them
    ds = DSprites()
    assert torch.equal(ds.get_batch(ds.classes_to_index(classes))[:, 0] > 0.5, rendered)


def test_xyobject_hand_checked_image():
    ds = XYObject()
    # x=3, y=5, size 7 (class 0), colour 7 = level 2 of yellow -> floor(255 * 2/4) = 127
    image = ds.get_batch(ds.classes_to_index(torch.tensor([[3, 5, 0, 7]])))[0]
    expected = torch.zeros(3, 64, 64)
    expected[0:2, 14:21, 10:17] = 127 / 255  # rows from y: 2*5+4, columns from x: 2*3+4
    assert torch.allclose(image, expected)
    assert len(ds) == 75000


def test_xyobject_shaded_is_the_same_image_set():
    plain, shaded = XYObject(), XYObjectShaded()
    assert len(plain) == len(shaded) == 75000
    classes = torch.from_numpy(np.random.default_rng(2).integers(0, [25, 25, 5, 4, 6], (500, 5)))
    colour_index = classes[:, 3] * 6 + classes[:, 4]
    plain_classes = torch.cat([classes[:, :3], colour_index[:, None]], 1)
    assert torch.equal(shaded.render(classes), plain.render(plain_classes))


def test_xysquares_hand_checked_image_and_spacing():
    ds = XYSquares()
    assert len(ds) == 8 ** 6 and ds.lat_names == ("x_R", "y_R", "x_G", "y_G", "x_B", "y_B")
    image = ds.render(torch.tensor([[1, 2, 0, 0, 7, 7]]))[0]
    expected = torch.zeros(3, 64, 64)
    expected[0, 16:24, 8:16] = 1
    expected[1, 0:8, 0:8] = 1
    expected[2, 56:64, 56:64] = 1
    assert torch.equal(image, expected)
    overlapping = XYSquares(spacing=4)
    assert overlapping.lat_sizes == (15,) * 6
    with pytest.raises(ValueError):
        XYSquares(spacing=0)


@pytest.mark.parametrize("name", GROUND_TRUTH)
def test_triplets_positive_is_closer_over_a_large_sample(name):
    ds = load_offline(name)
    anchors = torch.randint(0, len(ds), (5000,))
    triplets = ds.sample_triplet_indices(anchors, torch.Generator().manual_seed(0))
    assert torch.equal(triplets[:, 0], anchors)
    classes = ds.index_to_classes(triplets)
    sizes = torch.tensor(ds.lat_sizes, dtype=torch.float)
    dist = lambda a, b: ((a - b).abs().float() / (sizes - 1).clamp(min=1)).sum(1)  # noqa: E731
    assert (dist(classes[:, 0], classes[:, 1]) <= dist(classes[:, 0], classes[:, 2])).all()


def test_pairs_differ_in_exactly_k_factors():
    ds = DSprites()
    first = torch.randint(0, len(ds), (3000,))
    for k in (1, 2, 4):
        pairs = ds.sample_pair_indices(first, torch.Generator().manual_seed(k), k=k)
        classes = ds.index_to_classes(pairs)
        assert ((classes[:, 0] != classes[:, 1]).sum(1) == k).all()
    pairs = ds.sample_pair_indices(first, torch.Generator().manual_seed(9))
    n_diff = (ds.index_to_classes(pairs[:, 0]) != ds.index_to_classes(pairs[:, 1])).sum(1)
    assert n_diff.min() >= 1 and n_diff.max() <= 4


def test_unsupervised_triplets_ordered_by_image_distance():
    ds = XYObject()
    loader = BatchLoader(ds, 256, view_sampling="triplet_unsupervised", rec_dist="gaussian")
    batch = next(iter(loader))
    assert batch.shape == (256, 3, 3, 64, 64)
    anchor, pos, neg = batch.unbind(1)
    d_pos = (pos - anchor).pow(2).flatten(1).mean(1)
    d_neg = (neg - anchor).pow(2).flatten(1).mean(1)
    assert (d_pos <= d_neg).all()


def test_loader_shards_are_disjoint_and_cover_the_epoch():
    ds = XYObject()
    shards = [BatchLoader(ds, 1000, seed=3, rank=r, world_size=2).epoch_order() for r in range(2)]
    assert len(set(shards[0].tolist()) & set(shards[1].tolist())) == 0
    assert len(shards[0]) + len(shards[1]) == len(ds)


def test_a_dataset_too_large_to_permute_is_sampled_reproducibly(monkeypatch):
    """Beyond MAX_PERMUTED images an epoch's batches are drawn with replacement, on demand:
    the same batches for the same seed, again from a mid-epoch position (a resume), other
    ones next epoch and on the other process; unshuffled, in order."""
    import disvae.datasets.loaders as loaders
    monkeypatch.setattr(loaders, "MAX_PERMUTED", 100)
    ds = XYSquares(spacing=28)  # 3^6 = 729 images
    first, again = BatchLoader(ds, 32, seed=3), BatchLoader(ds, 32, seed=3)
    order = first.epoch_order()
    assert isinstance(order, loaders.SampledOrder) and len(order) == 729
    batches = [b for b in first.batches(order)]
    assert len(batches) == len(first) == 23 and sum(len(b) for b in batches) == 729
    resumed = list(again.batches(again.epoch_order(), start_batch=5))
    assert all(torch.equal(a, b) for a, b in zip(batches[5:], resumed)) and len(resumed) == 18
    indices = order[0:729]
    assert 0 <= int(indices.min()) and int(indices.max()) < 729 and len(set(indices.tolist())) > 400
    assert not torch.equal(first.epoch_order()[0:32], order[0:32])  # the next epoch
    other = BatchLoader(ds, 32, seed=3, rank=1, world_size=2).epoch_order()
    assert not torch.equal(other[0:32], BatchLoader(ds, 32, seed=3, rank=0, world_size=2).epoch_order()[0:32])
    plain = BatchLoader(ds, 32, shuffle=False, rank=1, world_size=2).epoch_order()
    assert plain[0:4].tolist() == [1, 3, 5, 7]


def test_xysquares_at_spacing_one_trains_and_is_scored(results_dir):
    """57^6 images (34 billion): neither the epoch order nor the metrics' memo is the size of the dataset."""
    import main
    from disvae.results import read_metrics
    assert main.main(["s1", "-d", "xysquares", "--xysquares-spacing", "1", "-l", "betaH", "-b", "8", "-z", "3",
                      "--max-steps", "2", "--no-test", "--is-metrics", "--metrics", "mig", "research",
                      "--metrics-samples", "200", "--no-progress-bar", "-L", "warning"]) == 0
    metrics = read_metrics(str(results_dir / "s1"))
    assert 0 <= metrics["mig_histogram"] <= 1 and 0 < metrics["axis_alignment_ratio"] <= 1


def official_latents():
    """The official file's latent arrays, built from its documented layout (color, shape,
    scale, orientation, posX, posY; last fastest), independently of our dataset code."""
    sizes = [1, 3, 6, 40, 32, 32]
    values_per_factor = [[1.0], [1.0, 2.0, 3.0], list(np.linspace(0.5, 1, 6)), list(np.linspace(0, 2 * np.pi, 40)),
                         list(np.linspace(0, 1, 32)), list(np.linspace(0, 1, 32))]
    classes = np.array(list(itertools.product(*[range(s) for s in sizes])), dtype=np.int64)
    values = np.stack([np.asarray(values_per_factor[k])[classes[:, k]] for k in range(6)], 1)
    return classes, values


def test_official_layout_matches_procedural_order():
    classes, values = official_latents()
    check_layout(DSprites(), classes[:, 1:], values[:, 1:])
    with pytest.raises(ValueError):
        check_layout(DSprites(), classes[::-1, 1:], values[::-1, 1:])


def test_official_file_images_are_streamed_and_packed(tmp_path):
    classes, values = official_latents()
    imgs = np.zeros((len(classes), 64, 64), dtype=np.uint8)
    imgs[5, 10, 20] = 1
    imgs[-1, 63, 63] = 1
    path = tmp_path / "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
    np.savez(path, imgs=imgs, latents_classes=classes, latents_values=values, metadata=np.array(0))
    del imgs
    ds = DSprites(root=str(tmp_path))
    assert ds.packed is not None and ds.packed.shape == (737280, 512)
    batch = ds.get_batch(torch.tensor([5, 6, 737279]))
    assert batch[0, 0, 10, 20] == 1 and batch[0].sum() == 1 and batch[1].sum() == 0 and batch[2, 0, 63, 63] == 1


def write_idx(path, array):
    """IDX format: magic (0, 0, dtype 0x08 ubyte, ndim), big-endian dims, data."""
    with gzip.open(path, "wb") if str(path).endswith(".gz") else open(path, "wb") as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion", "FashionMNIST")])
def test_mnist_like_from_fake_idx_files(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    images = np.zeros((5, 28, 28), dtype=np.uint8)
    images[:, 10:18, 10:18] = 255
    for prefix, n in (("train", 5), ("t10k", 3)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images[:n])
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(n))
    ds = load_dataset(name, str(tmp_path))
    assert len(ds) == 5 and ds.img_size == (1, 32, 32)
    batch = ds.get_batch(torch.arange(5))
    assert batch.shape == (5, 1, 32, 32) and batch[0, 0, 16, 16] == 1 and batch[0, 0, 0, 0] == 0


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion", "FashionMNIST")])
def test_test_losses_use_the_test_split(results_dir, tmp_path, name, folder):
    """test_losses.log of MNIST/FashionMNIST averages the t10k images (here 3 white squares
    on black, unlike the 6 training images): its reconstruction loss equals the model's
    loss on the test split computed directly, not on the training images."""
    import json
    import main
    from disvae.losses.terms import reconstruction_loss
    from disvae.modelio import load_model
    raw = tmp_path / "data" / folder / "raw"
    raw.mkdir(parents=True)
    train = np.random.default_rng(0).integers(0, 256, (6, 28, 28)).astype(np.uint8)
    test = np.zeros((3, 28, 28), dtype=np.uint8)
    test[:, 8:20, 8:20] = 255
    for prefix, images in (("train", train), ("t10k", test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", np.arange(len(images)))
    assert main.main(["split", "-d", name, "--data-root", str(tmp_path / "data"), "-l", "betaH", "-e", "1",
                      "-b", "3", "-z", "2", "--no-progress-bar", "-L", "warning"]) == 0
    logged = json.loads((results_dir / "split" / "test_losses.log").read_text())
    model, _ = load_model(str(results_dir / "split"))
    with torch.no_grad():
        def recon(dataset):
            x = dataset.get_batch(torch.arange(len(dataset)))
            return float(reconstruction_loss(model(x)[0], x))
        on_test = recon(load_dataset(name, str(tmp_path / "data"), split="test"))
        on_train = recon(load_dataset(name, str(tmp_path / "data")))
    assert logged["recon_loss"] == pytest.approx(on_test, rel=1e-5)
    assert abs(on_test - on_train) > 1.0  # the two splits are told apart


@pytest.mark.parametrize("name", ["mnist", "fashion", "celeba", "chairs"])
def test_missing_files_name_dataset_and_folder(tmp_path, name):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset(name, str(tmp_path))
    message = str(err.value)
    assert name in message and str(tmp_path) in message and "http" in message and "\n" not in message


def test_celeba_from_fake_jpgs_is_cached(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    for i in range(3):
        array = np.zeros((218, 178, 3), dtype=np.uint8)
        array[..., i] = 200
        Image.fromarray(array).save(folder / f"{i:06d}.jpg")
    ds = load_dataset("celeba", str(tmp_path))
    assert len(ds) == 3 and ds.img_size == (3, 64, 64)
    batch = ds.get_batch(torch.arange(3))
    assert batch[1, 1].mean() > 0.7 and batch[1, 0].mean() < 0.1
    assert (tmp_path / "celeba64.npy").exists()
    assert len(load_dataset("celeba", str(tmp_path))) == 3  # from the cache


def test_chairs_from_fake_pngs_centre_cropped_grayscale(tmp_path):
    folder = tmp_path / "rendered_chairs" / "chair_a" / "renders"
    folder.mkdir(parents=True)
    array = np.full((600, 600), 255, dtype=np.uint8)
    array[250:350, 250:350] = 0
    Image.fromarray(array).save(folder / "image_001.png")
    ds = load_dataset("chairs", str(tmp_path))
    image = ds.get_batch(torch.tensor([0]))[0, 0]
    assert ds.img_size == (1, 64, 64) and image[32, 32] < 0.1 and image[2, 2] > 0.9


def test_imagefolder_infers_channels(tmp_path):
    for i in range(3):
        Image.fromarray(np.full((40, 50), 30 * i, dtype=np.uint8)).save(tmp_path / f"g{i}.png")
    ds = load_dataset("imagefolder", str(tmp_path))
    assert ds.img_size == (1, 64, 64) and len(ds) == 3
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(tmp_path / "c.jpg")
    assert load_dataset("imagefolder", str(tmp_path)).img_size == (3, 64, 64)
    assert load_dataset("imagefolder", str(tmp_path), channels=1).img_size == (1, 64, 64)


def test_registry_lists_every_dataset_class_of_the_package():
    import inspect
    import pkgutil
    import disvae.datasets
    from disvae.datasets.base import ImageDataset
    defined = {cls.name: cls for info in pkgutil.iter_modules(disvae.datasets.__path__)
               for _, cls in inspect.getmembers(importlib.import_module(f"disvae.datasets.{info.name}"), inspect.isclass)
               if issubclass(cls, ImageDataset) and cls.name and cls.__module__.endswith(info.name)}
    assert DATASETS == defined and {"dsprites", "xysquares", "mnist", "imagefolder"} <= set(DATASETS)
    assert get_dataset("dsprites") is DSprites
    with pytest.raises(ValueError):
        get_dataset("nope")


# dSprites variants (issue 11)
SOME = torch.tensor([0, 1, 5000, 123456, 737279])


def dsprites_masks(indices):
    return load_dataset("dsprites").get_batch(indices).expand(-1, 3, -1, -1)


def test_color_dsprites_colours_the_sprite_only():
    ds = load_dataset("dsprites_color")
    images, masks = ds.get_batch(SOME), dsprites_masks(SOME)
    assert images.shape == (5, 3, 64, 64) and ds.lat_sizes == DSprites.lat_sizes
    assert (images[masks == 0] == 0).all()
    colours = images.amax((2, 3))  # each channel is the sprite's colour on its pixels
    assert torch.equal(images, masks * colours.view(5, 3, 1, 1))
    assert (colours >= 0.5).all() and (colours <= 1).all() and len(set(map(tuple, colours.tolist()))) == 5
    assert torch.equal(ds.get_batch(SOME[2:3])[0], images[2])  # a function of the index alone


@pytest.mark.parametrize("mode", ["fg", "bg"])
def test_masked_dsprites_at_strength_0_is_dsprites(mode):
    ds = load_dataset("dsprites_masked", mask_root="noise", mask_mode=mode, mask_strength=0.0)
    assert torch.equal(ds.get_batch(SOME), dsprites_masks(SOME))


def test_masked_dsprites_noise_background_is_noisy_dsprites():
    """bg at strength 1 with noise: sprite pixels white, background the index's noise
    (disentanglement_lib's noisy-dSprites: min(sprite + noise, 1)); deterministic."""
    ds = load_dataset("dsprites_masked", mask_root="noise", mask_mode="bg", mask_strength=1.0)
    images, masks = ds.get_batch(SOME), dsprites_masks(SOME)
    noise = ds.texture(SOME)
    assert torch.allclose(images, torch.clamp(masks + noise, max=1))
    assert torch.equal(ds.get_batch(SOME.flip(0)), images.flip(0))
    background = images[masks == 0]
    assert abs(background.mean().item() - 0.5) < 0.01 and abs(background.var().item() - 1 / 12) < 0.005
    assert not torch.equal(noise[0], noise[1])


def test_masked_dsprites_foreground_textures_from_a_folder(tmp_path):
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    for i, colour in enumerate(colours):
        Image.new("RGB", (80, 64), colour).save(tmp_path / f"t{i}.png")
    ds = load_dataset("dsprites_masked", mask_root=str(tmp_path), mask_mode="fg", mask_strength=0.5)
    images, masks = ds.get_batch(SOME), dsprites_masks(SOME)
    assert (images[masks == 0] == 0).all()
    for image, mask in zip(images, masks):
        sprite = image[:, mask[0] > 0]  # (3, n_sprite_pixels)
        colour = sprite[:, 0]
        assert (sprite == colour[:, None]).all()
        assert any(torch.allclose(colour, 0.5 + 0.5 * torch.tensor(c) / 255) for c in colours)


def test_masked_dsprites_without_textures_gives_the_offline_message(tmp_path):
    with pytest.raises(DatasetNotFoundError) as err:
        load_dataset("dsprites_masked", mask_root=str(tmp_path / "tiny-imagenet"))
    message = str(err.value)
    assert "--mask-root noise" in message and "tiny-imagenet" in message and "\n" not in message


def test_unknown_dataset_options_are_errors(capsys):
    """A dataset takes only the options it declares: a keyword of another dataset is an error
    (it used to be swallowed), and so is the flag of another dataset's option."""
    import main
    from utils.cli import run_cli
    with pytest.raises(ValueError, match="has no option spacing"):
        load_dataset("dsprites", spacing=4)
    assert load_dataset("xysquares", spacing=4).lat_sizes == (15,) * 6
    assert run_cli(main.main, ["t", "-d", "dsprites", "--xysquares-spacing", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --xysquares-spacing is an option of dataset xysquares, not of dsprites"


@pytest.mark.parametrize("name", GROUND_TRUTH)
def test_every_procedural_dataset_trains_with_triplets_and_metrics(results_dir, name):
    import json
    import main
    cls = DATASETS[name]
    offline = [word for argument, value in cls.offline_options.items()
               for word in (cls.options[argument].flag, str(value))]
    assert main.main(["v", "-d", name, *offline, "-l", "adatvae", "-e", "1", "--max-steps", "2",
                      "-b", "8", "-z", "4", "--no-test", "--no-progress-bar", "-L", "warning", "--is-metrics",
                      "--metrics", "mig", "research", "--metrics-samples", "300"]) == 0
    metrics = json.loads((results_dir / "v" / "metrics.log").read_text())
    assert 0 <= metrics["mig"] <= 1
    assert set(metrics["mig_sampled_per_factor"]) == {cls.lat_names[k] for k in load_offline(name).varying_factors}


def test_a_run_on_an_older_rendering_says_so_and_never_mixes(tiny_run, capsys):
    """specs.json records the rendering; a run trained on dSprites version 1 (specs.json
    without the key) cannot be resumed on version 2, and its plots and evaluation warn."""
    import json

    import main
    import main_viz
    folder = tiny_run("old")
    specs = json.loads((folder / "specs.json").read_text())
    assert specs["dataset_version"] == DSprites.version == 2
    del specs["dataset_version"]  # as written before renderings were versioned
    (folder / "specs.json").write_text(json.dumps(specs))
    code = main.run_cli(main.main, ["old", "--resume", "--max-steps", "4"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "version 1 of the dsprites rendering" in err, err
    assert main_viz.run_cli(main_viz.main, ["old", "reconstruct"]) == 0
    assert "warning: this model was trained on version 1" in capsys.readouterr().err
