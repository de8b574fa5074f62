"""What a training run records as it goes: the logged terms summed on the device, the
per-epoch means (train_losses.log), the every-`log_every`-steps means (train_steps.csv),
and one training.gif frame per epoch; each also told to an observer (--tensorboard).

- train_losses.log: CSV `Epoch,Loss,Value`, the epoch mean of every logged (sub-)loss,
  written atomically;
- train_steps.csv: every `log_every` steps a row `step,epoch,wall_time_s,<term>...` with
  the mean of every logged term over those steps, appended one row at a time; on resume
  the rows up to the checkpoint's step are kept, so an interrupted and resumed run has
  the same rows.
"""
import csv
import io
import os

import torch

from disvae.errors import DisvaeError
from disvae.io import atomic_write_text
from disvae.results import STEP_COLUMNS, STEP_LOG, TRAIN_LOG, read_train_steps


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


class RunLogs:
    """The logs of one run in `save_dir` (None: kept in memory only). Only the main
    process (`is_main`) writes files and tells the `observer`; `frame_fn(model)` makes the
    epoch's training.gif frame."""

    def __init__(self, save_dir, device, log_every=100, is_main=True, frame_fn=None, observer=None):
        self.save_dir, self.device, self.log_every, self.is_main = save_dir, device, log_every, is_main
        self.frame_fn, self.observer = frame_fn, observer
        self.epoch_sums, self.window_sums = RunningSums(), RunningSums()
        self.rows, self.frames = [], []  # train_losses.log's (epoch, term, mean); compressed frames
        self.step_columns = None  # train_steps.csv's columns once it has a row

    def add(self, logs):
        """One step's logs (device tensors): summed for the epoch and for the step-log window."""
        self.epoch_sums.add(logs)
        if self.log_every:
            self.window_sums.add(logs)

    def mean_loss(self):
        """The epoch's mean loss so far (a host sync; NaN before the first step)."""
        return self.epoch_sums.means()["loss"] if self.epoch_sums.count else float("nan")

    def row_due(self, global_step):
        return bool(self.log_every) and global_step % self.log_every == 0

    def step_row(self, step, epoch, wall_time):
        """Append a train_steps.csv row: the mean of every term since the last row."""
        row = {"step": step, "epoch": epoch, "wall_time_s": round(wall_time, 3), **self.window_sums.means()}
        self.window_sums = RunningSums()
        if self.is_main and self.save_dir is not None:
            self.append_step_row(row)
        if self.is_main and self.observer is not None:
            self.observer.steps(row)

    def last_step_row(self, step, epoch, wall_time):
        """At a stop: the row of the steps after the last full window, if any."""
        if self.log_every and self.window_sums.count:
            self.step_row(step, epoch, wall_time)

    def end_epoch(self, epoch, model):
        """The epoch's means into train_losses.log, and its training.gif frame; returns the means."""
        means = self.epoch_sums.means()
        self.rows += [(epoch, name, value) for name, value in means.items()]
        self.epoch_sums = RunningSums()
        if self.frame_fn is not None:
            self.frames.append(self.frame_fn(model))
            if self.is_main and self.observer is not None:
                self.observer.epoch(epoch, self.frames[-1])
        if self.is_main:
            self.write_train_log()
        return means

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
        writer.writerows(self.rows)
        atomic_write_text(os.path.join(self.save_dir, TRAIN_LOG), buffer.getvalue())

    # ----------------------------------------------------------------- checkpoints
    def state_dict(self):
        return {"epoch_sums": self.epoch_sums.state_dict(), "epoch_count": self.epoch_sums.count,
                "window_sums": self.window_sums.state_dict(), "window_count": self.window_sums.count,
                "log_rows": self.rows, "frames": self.frames}

    def load_state_dict(self, state, global_step):
        """A checkpoint's sums, rows and frames; train_steps.csv cut back to its rows up to
        `global_step`, as the checkpoint had them."""
        self.epoch_sums = RunningSums.from_state(state["epoch_sums"], state["epoch_count"], self.device)
        self.window_sums = RunningSums.from_state(state.get("window_sums", {}), state.get("window_count", 0),
                                                  self.device)
        self.rows, self.frames = list(state["log_rows"]), list(state["frames"])
        if self.save_dir is not None and self.is_main:
            try:
                rows = read_train_steps(self.save_dir, global_step)
            except DisvaeError:  # unreadable: rewritten from the resumed run's rows from here on
                rows = []
            self.step_columns = STEP_COLUMNS + [k for k in rows[-1] if k not in STEP_COLUMNS] if rows else None
            if rows:
                self.write_step_log(rows)
