"""main_viz.py writes every plot; files are non-blank; GIFs have the right frame counts."""
import imageio.v3 as iio
import pytest

import main
import main_viz
from disvae.errors import DisvaeError
from disvae.frames import traversal_values
from disvae.results import write_metric_curve_row


@pytest.fixture
def trained(tiny_run):
    folder = tiny_run("viz")
    assert main.main(["viz", "--is-eval-only", "--is-metrics", "--metrics", "research", "--metrics-samples", "400",
                      "--no-test", "--no-progress-bar", "-L", "warning"]) == 0
    for epoch, mig in ((1, 0.1), (2, 0.3)):  # as --metrics-every would add them
        write_metric_curve_row(str(folder), {"epoch": epoch, "step": 10 * epoch, "wall_time_s": 60.0 * epoch,
                                             "mig_histogram": mig, "mig_chen_no_shape": mig / 2})
    return folder


def test_all_plots_written_and_not_blank(trained):
    assert main_viz.main(["viz", "all", "-s", "1", "-r", "3", "-c", "4", "--is-show-loss"]) == 0
    figures = {plot: main_viz.PLOTS[plot].file for plot in main_viz.MODEL_PLOTS if plot != "latents"}
    for plot, filename in figures.items():
        path = trained / filename
        assert path.exists() and path.stat().st_size > 1000, plot
        image = iio.imread(path, index=0)
        assert image.std() > 1, plot  # not a blank canvas
    assert len((trained / "latents.csv").read_text().splitlines()) == 1 + 4  # header, one row per latent


def test_metric_curve_without_a_curve_is_skipped_by_all_and_one_line_alone(tiny_run, capsys):
    folder = tiny_run("nocurve")
    assert main_viz.main(["nocurve", "all", "-s", "1", "-r", "2", "-c", "2"]) == 0
    assert "skipped metric-curve: no metrics_curve.csv" in capsys.readouterr().out
    assert not (folder / "metric_curve.png").exists()
    with pytest.raises(DisvaeError, match="train with --metrics-every"):
        main_viz.main(["nocurve", "metric-curve"])


def test_gif_has_one_frame_per_traversal_step(trained):
    assert main_viz.main(["viz", "gif-traversals", "-s", "1", "-r", "2", "-c", "3", "--is-posterior"]) == 0
    frames = iio.imread(trained / "posterior_traversals.gif", index=None)
    assert frames.shape[0] == 20
    training = iio.imread(trained / "training.gif", index=None)
    assert training.shape[0] == 1  # one frame per epoch (2 steps ended inside epoch 1)


def test_traversal_ranges():
    assert traversal_values(2.0, 5).tolist() == [-2, -1, 0, 1, 2]
    assert traversal_values(2.0, 3, mean=1.0).tolist() == [-1, 1, 3]
    quantile = traversal_values(0.05, 3, mean=0.5, std=2.0)
    assert quantile[1] == pytest.approx(0.5)  # centred on the posterior mean
    assert quantile[2] == pytest.approx(0.5 + 2.0 * 1.6448536, rel=1e-5)


def test_summarize_table(trained, tmp_path):
    import subprocess
    import sys
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, os.path.join(root, "bin", "summarize.py"), "--results",
                          str(trained.parent), "--out", str(tmp_path / "summary")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    table = (tmp_path / "summary.md").read_text()
    assert "| viz | betaH | dsprites |" in table and "linearity_ratio" in table
    assert (tmp_path / "summary.png").stat().st_size > 1000


def test_summarize_finished_leaves_out_runs_still_training(trained, tmp_path):
    import os
    import shutil
    import sys
    from disvae.results import read_specs, write_specs
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin"))
    from summarize import main as summarize
    runs = tmp_path / "runs"
    shutil.copytree(trained, runs / "viz")
    shutil.copytree(trained, runs / "viz_seed2")
    specs = read_specs(str(runs / "viz_seed2"))
    write_specs(str(runs / "viz_seed2"), {**specs, "status": "running"})
    summarize(["--results", str(runs), "--out", str(tmp_path / "all")])
    summarize(["--results", str(runs), "--out", str(tmp_path / "finished"), "--finished"])
    gathered = (tmp_path / "all.csv").read_text().splitlines()
    finished = (tmp_path / "finished.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in gathered[1:]] == ["viz", "viz_seed2"]
    assert [line.split(",")[0] for line in finished[1:]] == ["viz"]
    assert "| viz_seed2 |" in (tmp_path / "all.md").read_text()
    assert "viz_seed2" not in (tmp_path / "finished.md").read_text()
