"""The Trainer: one training loop for every loss.

Each step: the loss runs the model on the batch and returns (loss, logs); the model's
optimiser steps; then the loss does its own after-step work (FactorVAE trains its
discriminator there). A step never makes the host wait for the device (tests/
test_syncs.py checks it for every loss and procedural dataset): logs stay on the device,
summed as one vector, and are read back in one transfer every BAR_EVERY steps (the
progress bar and the NaN check) and every `log_every` steps (train_steps.csv).

Files in `save_dir` (written atomically, except train_steps.csv, which is appended):
- train_losses.log: CSV `Epoch,Loss,Value`, epoch mean of every logged (sub-)loss;
- train_steps.csv: every `log_every` steps a row `step,epoch,wall_time_s,<term>...`
  with the mean of every logged term over those steps; on resume the rows up to the
  checkpoint's step are kept, so an interrupted and resumed run has the same rows;
- model-<epoch>.pt every `checkpoint_every` epochs, model-step<k>.pt every
  `checkpoint_steps` steps or on SIGINT/SIGTERM: everything needed to resume
  (model, optimiser, loss state, loader generators, position, logs so far, and each
  process's own random generators);
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
from contextlib import nullcontext

import torch
from tqdm import tqdm

from disvae.distributed import agree, all_gather_objects, world
from disvae.errors import DisvaeError
from disvae.io import atomic_torch_save, atomic_write_text, sync_file
from disvae.results import (MODEL_FILENAME, STEP_COLUMNS, STEP_LOG, TRAIN_LOG, read_checkpoint_pointer,
                            read_train_steps, write_checkpoint_pointer)
from disvae.runtime import to_device

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


class RunningSums:
    """Sums of the logged terms over steps, on the device as one vector: a step adds its
    logs with one stack and one add (no host sync), and reading the means back is a
    single transfer."""

    def __init__(self, names=(), total=None, count=0):
        self.names, self.total, self.count = tuple(names), total, count

    def add(self, logs):
        if tuple(logs) != self.names:  # a term seen for the first time: a new zero sum
            new = [name for name in logs if name not in self.names]
            if self.total is not None and new:
                self.total = torch.cat([self.total, self.total.new_zeros(len(new))])
            self.names += tuple(new)
        values = torch.stack([logs[name] if name in logs else logs["loss"].new_zeros(()) for name in self.names])
        self.total = values if self.total is None else self.total + values
        self.count += 1

    def means(self):
        """{name: mean over the steps added} (one device-to-host transfer)."""
        if not self.count:
            return {}
        return {name: total / self.count for name, total in zip(self.names, self.total.tolist())}

    def state_dict(self):
        total = self.total.cpu() if self.total is not None else None
        return {name: total[i] for i, name in enumerate(self.names)}

    @classmethod
    def from_state(cls, sums, count, device):
        """From a checkpoint's {name: sum} and count."""
        total = torch.stack(list(sums.values())).to(device) if sums else None
        return cls(sums, total, count)


class Trainer:
    def __init__(self, model, optimizer, loss_f, loader, save_dir, device="cpu", train_model=None,
                 checkpoint_every=30, checkpoint_steps=0, max_steps=None, max_seconds=None, progress_bar=True,
                 is_main=True, frame_fn=None, autocast_dtype=None, logger=None, log_every=100,
                 checkpoint_seconds=600, observer=None):
        self.model = model  # the bare module (saved)
        self.train_model = model if train_model is None else train_model  # runs the forward: DDP, compiled
        self.optimizer, self.loss_f, self.loader = optimizer, loss_f, loader
        self.save_dir, self.device = save_dir, torch.device(device)
        self.checkpoint_every, self.checkpoint_steps, self.max_steps = checkpoint_every, checkpoint_steps, max_steps
        self.max_seconds, self.deadline = max_seconds, None
        self.progress_bar, self.is_main = progress_bar and is_main, is_main
        self.frame_fn, self.autocast_dtype = frame_fn, autocast_dtype
        self.logger = logger or logging.getLogger(__name__)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.log_rows, self.frames = [], []
        self.epoch_sums = RunningSums()
        self.log_every, self.step_columns = log_every, None  # train_steps.csv's columns once it has a row
        self.checkpoint_seconds, self._last_save = checkpoint_seconds, None
        self._stop_saved = False
        self.window_sums = RunningSums()
        self.train_seconds, self._clock = 0.0, None  # training wall time of earlier invocations; this one's start
        self.total_steps, self.bar = None, None
        self.order_state = None
        self._signal, self._out_of_time = None, False
        self.rank, self.world_size = world()
        self.observer = observer  # also told each step-log row and epoch frame (--tensorboard)

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
        if self.world_size == 1 and self.deadline is not None:
            self._out_of_time = self._out_of_time or time.perf_counter() >= self.deadline
        return self._out_of_time

    def _events(self, read_point):
        """(a signal arrived, a checkpoint is due) after this step; notes a used-up time
        budget. Clocks and signals differ between processes: under torchrun they are looked
        at only at the read-back points and agreed on by all (a max over processes), so
        that every process saves, stops or is interrupted at the same step."""
        step_due = bool(self.checkpoint_steps) and self.global_step % self.checkpoint_steps == 0
        if self.world_size > 1 and not read_point:
            return False, step_due
        now = time.perf_counter()
        flags = [self._signal is not None,
                 bool(self.checkpoint_seconds) and now - self._last_save >= self.checkpoint_seconds,
                 self.deadline is not None and now >= self.deadline]
        if self.world_size > 1:
            flags = agree(flags, self.device)
        self._out_of_time = self._out_of_time or flags[2]
        return flags[0], step_due or flags[1]

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
            self.train_step(to_device(x, self.device))
            self.step_in_epoch += 1
            self.global_step += 1
            # values are read back from the device only here (one transfer each), never per step
            read_point = self.step_in_epoch % BAR_EVERY == 0 or self.step_in_epoch == n_batches
            if read_point:
                self._update_bar(self.check_finite())
            if self.log_every and self.global_step % self.log_every == 0:
                self._log_steps()
            interrupted, checkpoint_due = self._events(read_point)
            if interrupted:
                self.check_finite()
                raise TrainingInterrupted(self.save_checkpoint(f"model-step{self.global_step}.pt"))
            # every --checkpoint-steps steps, and every --checkpoint-minutes (bounds what a SIGKILL loses)
            if checkpoint_due:
                self.check_finite()
                self.save_checkpoint(f"model-step{self.global_step}.pt")
            if self._should_stop():
                break
        self.check_finite()
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

    def train_step(self, x):
        with torch.autocast(self.device.type, dtype=self.autocast_dtype) if self.autocast_dtype else nullcontext():
            loss, logs = self.loss_f(self.train_model, x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        logs.update(self.loss_f.after_step())
        logs = {name: value.float() for name, value in logs.items()}
        self.epoch_sums.add(logs)
        if self.log_every:  # the train_steps.csv window
            self.window_sums.add(logs)

    def _log_steps(self):
        """Append a train_steps.csv row: the mean of every term since the last row."""
        row = {"step": self.global_step, "epoch": self.epoch + self.step_in_epoch / len(self.loader),
               "wall_time_s": round(self.wall_time(), 3)}
        row.update(self.window_sums.means())
        self.window_sums = RunningSums()
        if self.is_main and self.save_dir is not None:
            self.append_step_row(row)
        if self.is_main and self.observer is not None:
            self.observer.steps(row)

    def check_finite(self):
        """Mean loss of the epoch so far; raises NonFiniteLoss on NaN/inf (a host sync)."""
        if not self.epoch_sums.count:
            return float("nan")
        mean_loss = self.epoch_sums.means()["loss"]
        if not math.isfinite(mean_loss):
            raise NonFiniteLoss(f"the loss became {mean_loss} at step {self.global_step}; the last good "
                                f"checkpoint in {self.save_dir} was kept (lower --lr or change the loss settings)")
        return mean_loss

    def _end_epoch(self, partial=False):
        self.epoch += 1
        means = self.epoch_sums.means()
        self.log_rows += [(self.epoch, name, value) for name, value in means.items()]
        self.epoch_sums, self.step_in_epoch = RunningSums(), 0
        if self.frame_fn is not None:
            self.frames.append(self.frame_fn(self.model))
            if self.is_main and self.observer is not None:
                self.observer.epoch(self.epoch, self.frames[-1])
        if self.is_main:
            self.write_train_log()
            self.logger.info("epoch %d: loss %.4f (step %d)", self.epoch, means.get("loss", float("nan")),
                             self.global_step)
        if self.checkpoint_every and self.epoch % self.checkpoint_every == 0 and not partial:
            self.save_checkpoint(f"model-{self.epoch}.pt")

    # ----------------------------------------------------------------- files
    def append_step_row(self, row):
        """Append one row to train_steps.csv (the first row also writes the header): the
        cost of a row does not grow with the run; rows after the newest checkpoint are
        dropped again by a --resume (`load_state_dict`)."""
        path = os.path.join(self.save_dir, STEP_LOG)
        if self.step_columns is None or not os.path.exists(path):
            self.step_columns = STEP_COLUMNS + [k for k in row if k not in STEP_COLUMNS]
            self.write_step_log([row])
            return
        with open(path, "a", newline="") as f:
            csv.DictWriter(f, self.step_columns, lineterminator="\n", extrasaction="ignore").writerow(row)

    def write_step_log(self, rows):
        """train_steps.csv holding `rows` exactly (atomically)."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, self.step_columns or STEP_COLUMNS, lineterminator="\n",
                                extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(os.path.join(self.save_dir, STEP_LOG), buffer.getvalue())

    def write_train_log(self):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["Epoch", "Loss", "Value"])
        writer.writerows(self.log_rows)
        atomic_write_text(os.path.join(self.save_dir, TRAIN_LOG), buffer.getvalue())

    def rank_state(self):
        """What differs between processes: the random generators of the CPU and of this
        process's GPU (only its own: a resume may see other GPUs), and its view sampler."""
        return {"torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                "views": self.loader.view_generator.get_state()}

    def load_rank_state(self, state):
        """This process's entry of a checkpoint's per-process states (older checkpoints:
        one state for all, with every visible GPU's generator by index)."""
        ranks = state.get("ranks")
        if ranks is None:
            cuda = state["rng"]["cuda"]
            index = self.device.index or 0
            ranks = [{"torch": state["rng"]["torch"], "views": state["loader"]["views"],
                      "cuda": cuda[index] if self.device.type == "cuda" and cuda and index < len(cuda) else None}]
        elif len(ranks) != self.world_size:
            self.logger.warning("the checkpoint was written by %d process(es) and is resumed by %d: the run "
                                "continues, but not as the uninterrupted run would have", len(ranks),
                                self.world_size)
        mine = ranks[self.rank % len(ranks)]
        torch.set_rng_state(mine["torch"])
        if self.device.type == "cuda" and mine["cuda"] is not None:
            torch.cuda.set_rng_state(mine["cuda"], self.device)
        self.loader.view_generator.set_state(mine["views"])

    def state_dict(self, ranks=None):
        """Everything a resume needs; `ranks`: every process's `rank_state()` (default: this one's)."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "loss": self.loss_f.state_dict(),
            "loader": self.loader.state_dict(),
            "order_state": self.order_state,
            "ranks": ranks if ranks is not None else [self.rank_state()],
            "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
            "epoch_sums": self.epoch_sums.state_dict(), "epoch_count": self.epoch_sums.count,
            "window_sums": self.window_sums.state_dict(), "window_count": self.window_sums.count,
            "train_seconds": self.wall_time(), "log_rows": self.log_rows, "frames": self.frames,
        }

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss_f.load_state_dict(state["loss"])
        self.loader.load_state_dict(state["loader"])
        self.order_state = state["order_state"]
        self.load_rank_state(state)
        self.epoch, self.step_in_epoch, self.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        self.epoch_sums = RunningSums.from_state(state["epoch_sums"], state["epoch_count"], self.device)
        self.window_sums = RunningSums.from_state(state.get("window_sums", {}), state.get("window_count", 0),
                                                  self.device)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.log_rows, self.frames = list(state["log_rows"]), list(state["frames"])
        if self.save_dir is not None and self.is_main:  # the rows up to the checkpoint, as it had them
            try:
                rows = read_train_steps(self.save_dir, self.global_step)
            except DisvaeError:  # unreadable: rewritten from the resumed run's rows from here on
                rows = []
            self.step_columns = STEP_COLUMNS + [k for k in rows[-1] if k not in STEP_COLUMNS] if rows else None
            if rows:
                self.write_step_log(rows)

    def save_checkpoint(self, filename):
        """Write a resumable checkpoint (every process calls it; rank 0 writes it, with
        every process's own generators) and point checkpoint.json at it."""
        path = os.path.join(self.save_dir, filename)
        ranks = all_gather_objects(self.rank_state())  # every process takes part
        self._last_save = time.perf_counter()
        if not self.is_main:
            return path
        sync_file(os.path.join(self.save_dir, STEP_LOG))  # the appended rows the checkpoint relies on
        atomic_torch_save(self.state_dict(ranks), path)
        previous = read_checkpoint_pointer(self.save_dir)
        write_checkpoint_pointer(self.save_dir, filename, self.epoch, self.global_step)
        if previous and previous.startswith("model-step") and previous != filename:
            os.remove(os.path.join(self.save_dir, previous))  # keep only the newest step checkpoint
        return path

    def _save_stop_checkpoint(self):
        """The last step-log row (the steps after the last full one), then a checkpoint."""
        if self.log_every and self.window_sums.count:
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

