"""--tensorboard: the terms of each train_steps.csv row and each epoch's traversal frame,
written through torch.utils.tensorboard to results/<name>/tensorboard/ (view them with
`tensorboard --logdir results`). TensorBoard is an optional extra; the CSV logs stay the
canonical record, and a run that asks for it without it installed stops with one line
before training."""
from disvae.errors import DisvaeError
from disvae.results import STEP_COLUMNS


def summary_writer_class():
    """torch.utils.tensorboard's SummaryWriter; a DisvaeError when tensorboard is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise DisvaeError("--tensorboard needs the tensorboard package: pip install tensorboard "
                          "(train_steps.csv and train_losses.log need nothing)") from None
    return SummaryWriter


class TensorBoardLog:
    def __init__(self, folder, decode_frame):
        self.writer, self.decode_frame = summary_writer_class()(folder), decode_frame

    def steps(self, row):
        """The terms of a train_steps.csv row, as scalars train/<term> at its step."""
        for name, value in row.items():
            if name not in STEP_COLUMNS:
                self.writer.add_scalar(f"train/{name}", value, row["step"])

    def epoch(self, epoch, frame):
        """The epoch's traversal frame (one row per latent), as the image `traversals`."""
        if frame is not None:
            self.writer.add_image("traversals", self.decode_frame(frame), epoch, dataformats="HWC")

    def close(self):
        self.writer.close()
