"""When a training run stops or saves, and what its progress bar shows.

`Stops` watches the budget (--max-steps, this invocation's --max-minutes), SIGINT/SIGTERM
and the checkpoint clock (--checkpoint-steps, --checkpoint-minutes). Clocks and signals
differ between processes: under torchrun they are looked at only at the read-back points
and agreed on by all (a max over processes), so that every process saves, stops or is
interrupted at the same step. `Progress` is the whole run's bar with its ETA.
"""
import signal
import time
from contextlib import contextmanager

from tqdm import tqdm

from disvae.distributed import agree

BAR_FORMAT = "{desc} {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}{postfix}]"


def eta_seconds(steps_left, seconds_per_step, seconds_left=None):
    """Time to the end of the run: the steps left at the current rate, or the rest of
    the --max-minutes budget if that ends first."""
    eta = steps_left * seconds_per_step
    return eta if seconds_left is None else max(0.0, min(eta, seconds_left))


def format_duration(seconds):
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class Stops:
    def __init__(self, max_steps=None, max_seconds=None, checkpoint_steps=0, checkpoint_seconds=600,
                 world_size=1, device="cpu"):
        self.max_steps, self.max_seconds = max_steps, max_seconds
        self.checkpoint_steps, self.checkpoint_seconds = checkpoint_steps, checkpoint_seconds
        self.world_size, self.device = world_size, device
        self.signal, self.out_of_time = None, False
        self.earlier_seconds, self.clock, self.deadline, self.last_save = 0.0, None, None, None

    def start(self):
        """This invocation starts training now: its --max-minutes and checkpoint clocks start."""
        self.clock = self.last_save = time.perf_counter()
        if self.max_seconds:
            self.deadline = self.clock + self.max_seconds

    def wall_time(self):
        """Seconds of training over every invocation of this run."""
        return self.earlier_seconds + (time.perf_counter() - self.clock if self.clock is not None else 0.0)

    def saved(self):
        self.last_save = time.perf_counter()

    @contextmanager
    def catching_signals(self):
        """SIGINT and SIGTERM noted (acted on after the step), the previous handlers restored after."""
        def note(signum, frame):
            self.signal = signum
        previous = {s: signal.signal(s, note) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def should_stop(self, global_step):
        """--max-steps reached, or this invocation's --max-minutes used up."""
        if self.max_steps is not None and global_step >= self.max_steps:
            return True
        if self.world_size == 1 and self.deadline is not None:
            self.out_of_time = self.out_of_time or time.perf_counter() >= self.deadline
        return self.out_of_time

    def events(self, global_step, read_point):
        """(a signal arrived, a checkpoint is due) after this step; notes a used-up time budget."""
        step_due = bool(self.checkpoint_steps) and global_step % self.checkpoint_steps == 0
        if self.world_size > 1 and not read_point:
            return False, step_due
        now = time.perf_counter()
        flags = [self.signal is not None,
                 bool(self.checkpoint_seconds) and now - self.last_save >= self.checkpoint_seconds,
                 self.deadline is not None and now >= self.deadline]
        if self.world_size > 1:
            flags = agree(flags, self.device)
        self.out_of_time = self.out_of_time or flags[2]
        return flags[0], step_due or flags[1]


class Progress:
    """The whole run's bar: steps over the run's `total`, images/s, and the ETA to the end
    of the run (or of the --max-minutes budget)."""

    def __init__(self, total, done, batch_size, enabled=True):
        self.total, self.batch_size = total, batch_size
        self.bar = tqdm(total=total, initial=min(done, total), unit="step", bar_format=BAR_FORMAT,
                        disable=not enabled, dynamic_ncols=True)
        self.mark = (time.perf_counter(), done)

    def epoch(self, epoch, epochs):
        self.bar.set_description_str(f"epoch {epoch + 1}/{epochs}")

    def update(self, global_step, mean_loss, deadline=None):
        now = time.perf_counter()
        mark_time, mark_step = self.mark
        seconds_per_step = (now - mark_time) / max(global_step - mark_step, 1)
        seconds_left = deadline - now if deadline is not None else None
        eta = eta_seconds(self.total - global_step, seconds_per_step, seconds_left)
        self.bar.set_postfix_str(f"eta {format_duration(eta)}, loss={mean_loss:.3f}, "
                                 f"img/s={self.batch_size / max(seconds_per_step, 1e-9):.0f}")
        self.bar.update(min(global_step, self.total) - self.bar.n)

    def close(self, global_step):
        self.bar.update(min(global_step, self.total) - self.bar.n)
        self.bar.close()
