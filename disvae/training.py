"""The Trainer: one training loop for every loss.

Each step: the loss runs the model on the batch and returns (loss, logs); the model's
optimiser steps; then the loss does its own after-step work (FactorVAE trains its
discriminator there). Logs stay on the device and are summed per epoch; they are
read back (a host sync) only when the progress bar or the epoch log needs them.

Files in `save_dir` (all written atomically):
- train_losses.log: CSV `Epoch,Loss,Value`, epoch mean of every logged (sub-)loss;
- train_steps.csv: every `log_every` steps a row `step,epoch,wall_time_s,<term>...`
  with the mean of every logged term over those steps; on resume the rows up to the
  checkpoint's step are kept, so an interrupted and resumed run has the same rows;
- model-<epoch>.pt every `checkpoint_every` epochs, model-step<k>.pt every
  `checkpoint_steps` steps or on SIGINT/SIGTERM: everything needed to resume
  (model, optimiser, loss state, loader generators, RNG, position, logs so far);
- checkpoint.json: which checkpoint is the newest;
- model.pt: the final model weights.
"""
import csv
import io
import logging
import math
import os
import signal
import time

import torch
from tqdm import tqdm

from disvae.errors import DisvaeError
from disvae.results import (MODEL_FILENAME, STEP_COLUMNS, STEP_LOG, TRAIN_LOG, read_checkpoint_pointer,
                            read_train_steps, write_checkpoint_pointer)
from utils.io import atomic_torch_save, atomic_write_text

BAR_EVERY = 20  # steps between progress-bar updates (each one is a host sync)
BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}{postfix}]"


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; a resumable checkpoint was saved at `path`."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite."""


def eta_seconds(steps_left, seconds_per_step, seconds_left=None):
    """Time to the end of the run: the steps left at the current rate, or the rest of
    the --max-minutes budget if that ends first."""
    eta = steps_left * seconds_per_step
    return eta if seconds_left is None else max(0.0, min(eta, seconds_left))


def format_duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def add_to(sums, logs):
    """sums[name] += value for every logged term, on the device (no host sync)."""
    for name, value in logs.items():
        sums[name] = sums[name] + value if name in sums else value.clone()


class Trainer:
    def __init__(self, model, optimizer, loss_f, loader, save_dir, device="cpu", train_model=None,
                 checkpoint_every=30, checkpoint_steps=0, max_steps=None, max_seconds=None, progress_bar=True,
                 is_main=True, frame_fn=None, autocast_dtype=None, logger=None, log_every=100,
                 checkpoint_seconds=600):
        self.model = model  # the bare module (saved)
        self.train_model = train_model or model  # what runs the forward pass (DDP wrapper or model)
        self.optimizer, self.loss_f, self.loader = optimizer, loss_f, loader
        self.save_dir, self.device = save_dir, torch.device(device)
        self.checkpoint_every, self.checkpoint_steps, self.max_steps = checkpoint_every, checkpoint_steps, max_steps
        self.max_seconds, self.deadline = max_seconds, None
        self.progress_bar, self.is_main = progress_bar and is_main, is_main
        self.frame_fn, self.autocast_dtype = frame_fn, autocast_dtype
        self.logger = logger or logging.getLogger(__name__)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.log_rows, self.frames = [], []
        self.epoch_sums, self.epoch_count = {}, 0
        self.log_every, self.step_rows = log_every, []
        self.checkpoint_seconds, self._last_save = checkpoint_seconds, None
        self._stop_saved = False
        self.window_sums, self.window_count = {}, 0
        self.train_seconds, self._clock = 0.0, None  # training wall time of earlier invocations; this one's start
        self.total_steps, self.bar = None, None
        self.order_state = None
        self._signal = None

    # ----------------------------------------------------------------- training
    def train(self, epochs):
        self._clock = self._last_save = time.perf_counter()
        if self.max_seconds:
            self.deadline = self._clock + self.max_seconds
        self.total_steps = min(epochs * len(self.loader), self.max_steps or math.inf)
        self.bar = tqdm(total=self.total_steps, initial=min(self.global_step, self.total_steps), unit="step",
                        bar_format=BAR_FORMAT, disable=not self.progress_bar, dynamic_ncols=True)
        self._bar_mark = (self._clock, self.global_step)
        old_handlers = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self.epoch < epochs and not self._should_stop():
                self._train_epoch(epochs)
        finally:
            for sig, handler in old_handlers.items():
                signal.signal(sig, handler)
            self.bar.update(min(self.global_step, self.total_steps) - self.bar.n)
            self.bar.close()
        self.save_final()

    def wall_time(self):
        """Seconds of training over every invocation of this run."""
        return self.train_seconds + (time.perf_counter() - self._clock if self._clock is not None else 0.0)

    def _on_signal(self, signum, frame):
        self._signal = signum

    def _should_stop(self):
        """--max-steps reached, or this invocation's --max-minutes used up."""
        if self.max_steps is not None and self.global_step >= self.max_steps:
            return True
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def _train_epoch(self, epochs):
        self.model.train()
        self.loss_f.train()
        if self.step_in_epoch == 0:
            self.order_state = self.loader.order_generator.get_state()
        resume_state = self.loader.order_generator.get_state()
        self.loader.order_generator.set_state(self.order_state)
        order = self.loader.epoch_order()
        if self.step_in_epoch:  # resuming mid-epoch: the generator is already past this epoch's draw
            self.loader.order_generator.set_state(resume_state)
        n_batches = len(self.loader)
        self.bar.set_description_str(f"epoch {self.epoch + 1}/{epochs}")
        for x in self.loader.batches(order, self.step_in_epoch):
            self._train_step(x.to(self.device, non_blocking=True))
            self.step_in_epoch += 1
            self.global_step += 1
            if self.step_in_epoch % BAR_EVERY == 0 or self.step_in_epoch == n_batches:
                self._update_bar(self._check_finite())
            if self.log_every and self.global_step % self.log_every == 0:
                self._log_steps()
            if self._signal is not None:
                self._check_finite()
                raise TrainingInterrupted(self.save_checkpoint(f"model-step{self.global_step}.pt"))
            # every --checkpoint-steps steps, and every --checkpoint-minutes (bounds what a SIGKILL loses)
            if (self.checkpoint_steps and self.global_step % self.checkpoint_steps == 0) or \
                    (self.checkpoint_seconds and time.perf_counter() - self._last_save >= self.checkpoint_seconds):
                self._check_finite()
                self.save_checkpoint(f"model-step{self.global_step}.pt")
            if self._should_stop():
                break
        self._check_finite()
        if self.step_in_epoch < n_batches:  # a budget stop (--max-steps, --max-minutes) mid-epoch
            self._save_stop_checkpoint()  # a --resume with a larger budget continues mid-epoch, exactly
            self._end_epoch(partial=True)  # the logs and training.gif still show the partial epoch
        else:
            self._end_epoch()

    def _update_bar(self, mean_loss):
        """Whole-run progress: steps over the run's total, images/s, and the ETA to the
        end of the run (or of the --max-minutes budget)."""
        now = time.perf_counter()
        mark_time, mark_step = self._bar_mark
        seconds_per_step = (now - mark_time) / max(self.global_step - mark_step, 1)
        seconds_left = self.deadline - now if self.deadline is not None else None
        eta = eta_seconds(self.total_steps - self.global_step, seconds_per_step, seconds_left)
        self.bar.set_postfix_str(f"eta {format_duration(eta)}, loss={mean_loss:.3f}, "
                                 f"img/s={self.loader.batch_size / max(seconds_per_step, 1e-9):.0f}")
        self.bar.update(min(self.global_step, self.total_steps) - self.bar.n)

    def _train_step(self, x):
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            loss, logs = self.loss_f(self.train_model, x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        logs.update(self.loss_f.after_step())
        logs = {name: value.float() for name, value in logs.items()}
        add_to(self.epoch_sums, logs)
        self.epoch_count += 1
        if self.log_every:  # the train_steps.csv window
            add_to(self.window_sums, logs)
            self.window_count += 1

    def _log_steps(self):
        """Append a train_steps.csv row: the mean of every term since the last row."""
        row = {"step": self.global_step, "epoch": self.epoch + self.step_in_epoch / len(self.loader),
               "wall_time_s": round(self.wall_time(), 3)}
        row.update({name: total.item() / self.window_count for name, total in self.window_sums.items()})
        self.step_rows.append(row)
        self.window_sums, self.window_count = {}, 0
        if self.is_main:
            self.write_step_log()

    def _check_finite(self):
        """Mean loss of the epoch so far; raises NonFiniteLoss on NaN/inf (a host sync)."""
        if not self.epoch_count:
            return float("nan")
        mean_loss = self.epoch_sums["loss"].item() / self.epoch_count
        if not math.isfinite(mean_loss):
            raise NonFiniteLoss(f"the loss became {mean_loss} at step {self.global_step}; the last good "
                                f"checkpoint in {self.save_dir} was kept (lower --lr or change the loss settings)")
        return mean_loss

    def _end_epoch(self, partial=False):
        self.epoch += 1
        means = {name: total.item() / self.epoch_count for name, total in self.epoch_sums.items()}
        self.log_rows += [(self.epoch, name, value) for name, value in means.items()]
        self.epoch_sums, self.epoch_count, self.step_in_epoch = {}, 0, 0
        if self.frame_fn is not None:
            self.frames.append(self.frame_fn(self.model))
        if self.is_main:
            self.write_train_log()
            self.logger.info("epoch %d: loss %.4f (step %d)", self.epoch, means.get("loss", float("nan")),
                             self.global_step)
        if self.checkpoint_every and self.epoch % self.checkpoint_every == 0 and not partial:
            self.save_checkpoint(f"model-{self.epoch}.pt")

    # ----------------------------------------------------------------- files
    def write_step_log(self):
        columns = STEP_COLUMNS + [k for k in self.step_rows[-1] if k not in STEP_COLUMNS] if self.step_rows else []
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(self.step_rows)
        atomic_write_text(os.path.join(self.save_dir, STEP_LOG), buffer.getvalue())

    def write_train_log(self):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Epoch", "Loss", "Value"])
        writer.writerows(self.log_rows)
        atomic_write_text(os.path.join(self.save_dir, TRAIN_LOG), buffer.getvalue())

    def state_dict(self):
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "loss": self.loss_f.state_dict(),
            "loader": self.loader.state_dict(),
            "order_state": self.order_state,
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
            "epoch_sums": {k: v.cpu() for k, v in self.epoch_sums.items()}, "epoch_count": self.epoch_count,
            "window_sums": {k: v.cpu() for k, v in self.window_sums.items()}, "window_count": self.window_count,
            "train_seconds": self.wall_time(), "log_rows": self.log_rows, "frames": self.frames,
        }

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss_f.load_state_dict(state["loss"])
        self.loader.load_state_dict(state["loader"])
        self.order_state = state["order_state"]
        torch.set_rng_state(state["rng"]["torch"])
        if state["rng"]["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
        self.epoch, self.step_in_epoch, self.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        self.epoch_sums = {k: v.to(self.device) for k, v in state["epoch_sums"].items()}
        self.epoch_count = state["epoch_count"]
        self.window_sums = {k: v.to(self.device) for k, v in state.get("window_sums", {}).items()}
        self.window_count = state.get("window_count", 0)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.log_rows, self.frames = list(state["log_rows"]), list(state["frames"])
        if self.save_dir is not None:
            try:
                self.step_rows = read_train_steps(self.save_dir, self.global_step)
            except DisvaeError:  # unreadable: rewritten from the resumed run's rows from here on
                self.step_rows = []

    def save_checkpoint(self, filename):
        """Write a resumable checkpoint (rank 0 only) and point checkpoint.json at it."""
        path = os.path.join(self.save_dir, filename)
        if not self.is_main:
            return path
        atomic_torch_save(self.state_dict(), path)
        self._last_save = time.perf_counter()
        previous = read_checkpoint_pointer(self.save_dir)
        write_checkpoint_pointer(self.save_dir, filename, self.epoch, self.global_step)
        if previous and previous.startswith("model-step") and previous != filename:
            os.remove(os.path.join(self.save_dir, previous))  # keep only the newest step checkpoint
        return path

    def _save_stop_checkpoint(self):
        """The last step-log row (the steps after the last full one), then a checkpoint."""
        if self.log_every and self.window_count:
            self._log_steps()
        if self.save_dir is not None:
            self.save_checkpoint(f"model-step{self.global_step}.pt")
        self._stop_saved = True

    def save_final(self):
        """End of training (all epochs, --max-steps or --max-minutes): the last step-log
        row, a resumable checkpoint (a later --resume with a larger budget extends the
        run), train_losses.log and model.pt."""
        if not self._stop_saved:
            self._save_stop_checkpoint()
        if not self.is_main:
            return
        self.write_train_log()
        atomic_torch_save(self.model.state_dict(), os.path.join(self.save_dir, MODEL_FILENAME))

