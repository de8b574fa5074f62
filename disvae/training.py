"""The Trainer: one training loop for every loss.

Each step: the loss runs the model on the batch and returns (loss, logs); the model's
optimiser steps; then the loss does its own after-step work (FactorVAE trains its
discriminator there). A step never makes the host wait for the device (tests/
test_syncs.py checks it for every loss and procedural dataset): logs stay on the device,
summed as one vector (disvae/trainlogs.py), and are read back in one transfer every
BAR_EVERY steps (the progress bar and the NaN check) and every `log_every` steps
(train_steps.csv). When to save and stop is disvae/stops.py's.

Files in `save_dir` (the logs: disvae/trainlogs.py):
- model-<epoch>.pt every `checkpoint_every` epochs, model-step<k>.pt every
  `checkpoint_steps` steps, every `checkpoint_seconds`, at a budget stop or on
  SIGINT/SIGTERM: everything needed to resume (model, optimiser, loss state, loader
  generators, position, logs so far, and each process's own random generators);
- checkpoint.json: which checkpoint is the newest;
- model.pt: the final model weights.
"""
import logging
import math
import os
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from disvae.distributed import all_gather_objects, world
from disvae.io import atomic_torch_save, sync_file
from disvae.results import MODEL_FILENAME, STEP_LOG, read_checkpoint_pointer, write_checkpoint_pointer
from disvae.runtime import to_device
from disvae.stops import Progress, Stops
from disvae.trainlogs import RunLogs

BAR_EVERY = 20  # steps between progress-bar updates (each one is a host sync)


@dataclass
class Plan:
    """When a run stops, saves and logs: --max-steps, --max-minutes (as seconds, this
    invocation's), --checkpoint-every (epochs), --checkpoint-steps, --checkpoint-minutes (as
    seconds), --log-every (steps)."""
    max_steps: int = None
    max_seconds: float = None
    checkpoint_every: int = 30
    checkpoint_steps: int = 0
    checkpoint_seconds: float = 600
    log_every: int = 100


class TrainingInterrupted(Exception):
    """SIGINT/SIGTERM arrived; a resumable checkpoint was saved at `path`."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


class NonFiniteLoss(Exception):
    """The loss became NaN or infinite."""



class Trainer:
    """Trains `model` (run as `train_model`: itself, DDP, or compiled) with `optimizer` on the
    `loss_f` of the `loader`'s batches, as the `plan` says, writing into `save_dir` (None:
    nothing written). `autocast_dtype`: bfloat16 autocast; `frame_fn(model)`: the epoch's
    training.gif frame; `observer`: told every step-log row and frame (--tensorboard);
    `epoch_fn(model, epoch, global_step, seconds)`: called by the main process after each
    full epoch, before its checkpoint (--metrics-every's curve)."""

    def __init__(self, model, optimizer, loss_f, loader, save_dir, device="cpu", plan=None, train_model=None,
                 autocast_dtype=None, frame_fn=None, observer=None, progress_bar=True, is_main=True, logger=None,
                 epoch_fn=None):
        self.model, self.train_model = model, model if train_model is None else train_model
        self.optimizer, self.loss_f, self.loader = optimizer, loss_f, loader
        self.save_dir, self.device, self.autocast_dtype = save_dir, torch.device(device), autocast_dtype
        self.plan, self.progress_bar, self.is_main = plan or Plan(), progress_bar and is_main, is_main
        self.logger = logger or logging.getLogger(__name__)
        self.epoch_fn = epoch_fn
        self.rank, self.world_size = world()
        self.logs = RunLogs(save_dir, self.device, self.plan.log_every, is_main, frame_fn, observer)
        self.stops = Stops(self.plan.max_steps, self.plan.max_seconds, self.plan.checkpoint_steps,
                           self.plan.checkpoint_seconds, self.world_size, self.device)
        self.epoch, self.step_in_epoch, self.global_step = 0, 0, 0
        self.order_state, self.progress, self.stop_saved = None, None, False

    @property
    def frames(self):
        return self.logs.frames

    # ----------------------------------------------------------------- training
    def train(self, epochs):
        self.stops.start()
        self.progress = Progress(min(epochs * len(self.loader), self.plan.max_steps or math.inf), self.global_step,
                                 self.loader.batch_size, self.progress_bar)
        try:
            with self.stops.catching_signals():
                while self.epoch < epochs and not self.stops.should_stop(self.global_step):
                    self.train_epoch(epochs)
            if self.step_in_epoch and not self.stop_saved:  # resumed at its mid-epoch budget stop, with
                self.stop_saved = True  # nothing left to train (killed after it, during its metrics):
                self.end_epoch(partial=True)  # the partial epoch's row and frame, as the first time
        finally:
            self.progress.close(self.global_step)
        self.save_final()

    def train_epoch(self, epochs):
        self.model.train()
        self.loss_f.train()
        n_batches = len(self.loader)
        self.progress.epoch(self.epoch, epochs)
        for x in self.loader.batches(self.epoch_order(), self.step_in_epoch):
            self.train_step(to_device(x, self.device))
            self.step_in_epoch += 1
            self.global_step += 1
            # values are read back from the device only here (one transfer each), never per step
            read_point = self.step_in_epoch % BAR_EVERY == 0 or self.step_in_epoch == n_batches
            if read_point:
                self.progress.update(self.global_step, self.check_finite(), self.stops.deadline)
            if self.logs.row_due(self.global_step):
                self.logs.step_row(self.global_step, self.epoch_position(), self.stops.wall_time())
            # SIGINT/SIGTERM, every --checkpoint-steps steps and every --checkpoint-minutes
            interrupted, checkpoint_due = self.stops.events(self.global_step, read_point)
            if interrupted or checkpoint_due:
                self.check_finite()
                path = self.save_checkpoint(f"model-step{self.global_step}.pt")
                if interrupted:
                    raise TrainingInterrupted(path)
            if self.stops.should_stop(self.global_step):
                break
        self.check_finite()
        if self.step_in_epoch < n_batches:  # a budget stop (--max-steps, --max-minutes) mid-epoch:
            self.save_stop_checkpoint()  # a --resume with a larger budget continues mid-epoch, exactly,
        self.end_epoch(partial=self.step_in_epoch < n_batches)  # and the logs still show the partial epoch

    def train_step(self, x):
        with torch.autocast(self.device.type, dtype=self.autocast_dtype) if self.autocast_dtype else nullcontext():
            loss, logs = self.loss_f(self.train_model, x)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        logs.update(self.loss_f.after_step())
        self.logs.add({name: value.float() for name, value in logs.items()})

    def epoch_order(self):
        """This epoch's permutation of the data (drawn at its start; on a mid-epoch resume,
        drawn again from the state the epoch started with)."""
        if self.step_in_epoch == 0:
            self.order_state = self.loader.order_generator.get_state()
        resume_state = self.loader.order_generator.get_state()
        self.loader.order_generator.set_state(self.order_state)
        order = self.loader.epoch_order()
        if self.step_in_epoch:  # resuming mid-epoch: the generator is already past this epoch's draw
            self.loader.order_generator.set_state(resume_state)
        return order

    def epoch_position(self):
        """Epochs done, as a fraction: 1.5 is half-way through the second epoch."""
        return self.epoch + self.step_in_epoch / len(self.loader)

    def check_finite(self):
        """Mean loss of the epoch so far; raises NonFiniteLoss on NaN/inf (a host sync)."""
        mean_loss = self.logs.mean_loss()
        if self.logs.epoch_sums.count and not math.isfinite(mean_loss):
            raise NonFiniteLoss(f"the loss became {mean_loss} at step {self.global_step}; the last good "
                                f"checkpoint in {self.save_dir} was kept (lower --lr or change the loss settings)")
        return mean_loss

    def end_epoch(self, partial=False):
        self.epoch += 1
        means = self.logs.end_epoch(self.epoch, self.model)
        self.step_in_epoch = 0
        if self.is_main:
            self.logger.info("epoch %d: loss %.4f (step %d)", self.epoch, means.get("loss", float("nan")),
                             self.global_step)
            if self.epoch_fn is not None and not partial:
                self.epoch_fn(self.model, self.epoch, self.global_step, self.stops.wall_time())
        if self.plan.checkpoint_every and self.epoch % self.plan.checkpoint_every == 0 and not partial:
            self.save_checkpoint(f"model-{self.epoch}.pt")

    # ----------------------------------------------------------------- checkpoints
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
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "loss": self.loss_f.state_dict(), "loader": self.loader.state_dict(),
                "order_state": self.order_state, "ranks": ranks if ranks is not None else [self.rank_state()],
                "epoch": self.epoch, "step_in_epoch": self.step_in_epoch, "global_step": self.global_step,
                "train_seconds": self.stops.wall_time(), **self.logs.state_dict()}

    def load_state_dict(self, state):
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.loss_f.load_state_dict(state["loss"])
        self.loader.load_state_dict(state["loader"])
        self.order_state = state["order_state"]
        self.load_rank_state(state)
        self.epoch, self.step_in_epoch, self.global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        self.stops.earlier_seconds = float(state.get("train_seconds", 0.0))
        self.logs.load_state_dict(state, self.global_step)

    def save_checkpoint(self, filename):
        """Write a resumable checkpoint (every process calls it; rank 0 writes it, with
        every process's own generators) and point checkpoint.json at it."""
        path = os.path.join(self.save_dir, filename)
        ranks = all_gather_objects(self.rank_state())  # every process takes part
        self.stops.saved()
        if not self.is_main:
            return path
        sync_file(os.path.join(self.save_dir, STEP_LOG))  # the appended rows the checkpoint relies on
        atomic_torch_save(self.state_dict(ranks), path)
        previous = read_checkpoint_pointer(self.save_dir)
        write_checkpoint_pointer(self.save_dir, filename, self.epoch, self.global_step)
        if previous and previous.startswith("model-step") and previous != filename:
            os.remove(os.path.join(self.save_dir, previous))  # keep only the newest step checkpoint
        return path

    def save_stop_checkpoint(self):
        """The last step-log row (the steps after the last full one), then a checkpoint."""
        self.logs.last_step_row(self.global_step, self.epoch_position(), self.stops.wall_time())
        if self.save_dir is not None:
            self.save_checkpoint(f"model-step{self.global_step}.pt")
        self.stop_saved = True

    def save_final(self):
        """End of training (all epochs, --max-steps or --max-minutes): the last step-log
        row, a resumable checkpoint (a later --resume with a larger budget extends the
        run), train_losses.log and model.pt."""
        if not self.stop_saved:
            self.save_stop_checkpoint()
        if not self.is_main:
            return
        self.logs.write_train_log()
        atomic_torch_save(self.model.state_dict(), os.path.join(self.save_dir, MODEL_FILENAME))
