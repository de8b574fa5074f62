"""What a command is doing and which files it has finished, for the one line printed when
SIGINT/SIGTERM stops it outside training (training saves a checkpoint of its own):
`interrupted (SIGINT) while computing metric dci; kept metrics.log (mig); ...`."""
import contextlib

STATE = {"doing": "starting", "kept": {}, "signal": None}


def reset():
    STATE.update(doing="starting", kept={}, signal=None)


@contextlib.contextmanager
def phase(doing):
    """Name what the enclosed code does (`computing metric dci`) for an interruption message."""
    previous, STATE["doing"] = STATE["doing"], doing
    yield  # on an exception the phase stays named: it is where the command stopped
    STATE["doing"] = previous


def keep(key, description):
    """Record a file written in full (`metrics.log (mig, dci)`): an interruption keeps it."""
    STATE["kept"][key] = description


def interruption_message():
    kept = ", ".join(STATE["kept"].values()) or "no new file"
    return (f"interrupted ({STATE['signal'] or 'SIGINT'}) while {STATE['doing']}; kept {kept}; "
            "nothing half-written was left")
