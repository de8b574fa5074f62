"""Find the places where code makes the host wait for the device.

A GPU step runs at the device's pace only when the host never waits on it. The host
waits when it reads a value back (`.item()`, `float(t)`, `if t:`, printing), when a
result's shape depends on the data (`nonzero`, boolean-mask indexing), when it copies
to the CPU, and when it copies host memory to the device with a blocking copy
(`.to(device)` without `non_blocking=True`, and `torch.tensor(...)` or
`t.new_tensor(...)` with host data, which PyTorch copies that way).

`HostSyncRecorder(device_type)` records each of these, with where in the code it
happened, for tensors on `device_type`. It works without a GPU: with "meta" tensors
(shapes without data) every device-side operation runs, and a read-back of a meta
tensor is seen exactly as a read-back of a CUDA one would be.

    with HostSyncRecorder("cuda") as syncs:
        train_step(batch)
    assert not syncs.events, syncs.events
"""
import traceback

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

aten = torch.ops.aten
READ_BACKS = {aten._local_scalar_dense.default: "reads a value back (.item(), float(), bool())",
              aten.is_nonzero.default: "reads a value back (bool(tensor))",
              aten.equal.default: "reads a value back (torch.equal)",
              aten.nonzero.default: "a data-dependent shape (nonzero, boolean-mask indexing)",
              aten.masked_select.default: "a data-dependent shape (masked_select)",
              aten._unique2.default: "a data-dependent shape (unique)"}
HOST_DATA = {"tensor", "as_tensor", "new_tensor"}


def _device_type(value):
    return torch.device(value).type if value is not None else None


def _where():
    """The innermost first-party frames of the current stack (file:line < caller ...)."""
    frames = [f for f in traceback.extract_stack()[:-3] if "site-packages" not in f.filename
              and not f.filename.startswith("<") and not f.filename.endswith("syncs.py")]
    return " < ".join(f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames[::-1][:3])


class _Dispatch(TorchDispatchMode):
    def __init__(self, recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        device = self.recorder.device_type
        tensors = [t for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
        on_device = any(t.device.type == device for t in tensors)
        if on_device and func in READ_BACKS:
            self.recorder.add(READ_BACKS[func])
        elif on_device and func is aten.index.Tensor and any(
                t is not None and t.dtype in (torch.bool, torch.uint8) for t in args[1]):
            self.recorder.add("a data-dependent shape (boolean-mask indexing)")
        elif func is aten._to_copy.default and tensors:
            source, target = tensors[0].device.type, _device_type(kwargs.get("device"))
            self.recorder.check_copy(source, target or source, kwargs.get("non_blocking", False))
        elif func is aten.copy_.default:
            self.recorder.check_copy(args[1].device.type, args[0].device.type, len(args) > 2 and args[2])
        return func(*args, **kwargs)


class _Function(TorchFunctionMode):
    """Host data made into a device tensor: invisible below the dispatcher, seen here."""

    def __init__(self, recorder):
        super().__init__()
        self.recorder = recorder

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name in HOST_DATA:
            target = kwargs.get("device")
            if name == "new_tensor" and target is None and args and isinstance(args[0], torch.Tensor):
                target = args[0].device
            data = args[1] if name == "new_tensor" else (args[0] if args else None)
            if _device_type(target) == self.recorder.device_type and not isinstance(data, torch.Tensor):
                self.recorder.add(f"host data copied to the device (torch.{name} of Python values)")
        return func(*args, **kwargs)


class HostSyncRecorder:
    """Context manager: `events` lists (what, where) of every host synchronisation with
    `device_type` ("cuda", or "meta" to check device code on a machine without a GPU)."""

    def __init__(self, device_type="cuda"):
        self.device_type = device_type
        self.events = []
        self._modes = (_Function(self), _Dispatch(self))

    def add(self, what):
        self.events.append((what, _where()))

    def check_copy(self, source, target, non_blocking):
        if source == self.device_type and target == "cpu":
            self.add("a copy to the CPU")
        elif source == "cpu" and target == self.device_type and not non_blocking:
            self.add("a blocking copy from the CPU (use non_blocking=True from pinned memory)")

    def __enter__(self):
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc):
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        return False

    def summary(self):
        """One line per distinct (what, where)."""
        return sorted({f"{what} at {where}" for what, where in self.events})
