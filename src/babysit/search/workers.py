"""Sweeps shared by workers that may die: a trial whose worker is gone is marked FAIL (reason
"interrupted", not counted) so that its slot is drawn again, and a worker that is alive keeps its
trials' heartbeats fresh while they train.

A worker on this machine is known to be gone when its process no longer exists; one on another
machine when its trials' heartbeats (RDB storage: PostgreSQL, SQLite) stop for the grace period."""

import os
import socket
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

INTERRUPTED = "interrupted/{}"  # study user attribute: trial <number> was interrupted, its slot drawn again


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def quiet_heartbeat_warnings() -> None:
    """Optuna warns that heartbeats are experimental, and meant for Study.optimize, at every trial
    asked; the search records them itself (`heartbeats`)."""
    warnings.filterwarnings("ignore", message=r".*heartbeat.*|.*fail_stale_trials.*",
                            category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")


def mark_interrupted(study: optuna.Study, trial: FrozenTrial) -> None:
    """Optuna's callback for a trial it failed because its heartbeats stopped."""
    study.set_user_attr(INTERRUPTED.format(trial.number), True)


def _heartbeat_interval(storage) -> int | None:
    get = getattr(storage, "get_heartbeat_interval", None)
    return get() if get is not None else None


def fail_gone_workers_trials(study: optuna.Study) -> list[int]:
    """RUNNING trials of a process of this machine that is gone, and (with heartbeats) of any
    machine whose heartbeats stopped: FAIL, reason "interrupted", left out of their stage's count."""
    host, failed = socket.gethostname(), []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        h, _, pid = t.user_attrs.get("owner", "").partition(":")
        if h != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:  # another worker may get there first
            optuna.trial.Trial(study, t._trial_id).set_user_attr("reason", f"interrupted: its worker {h}:{pid} is gone")
            study.tell(t.number, state=TrialState.FAIL)
        except (UpdateFinishedTrialError, ValueError, RuntimeError):
            continue
        study.set_user_attr(INTERRUPTED.format(t.number), True)
        failed.append(t.number)
    if _heartbeat_interval(study._storage):
        optuna.storages.fail_stale_trials(study)  # mark_interrupted for each
    return failed


@contextmanager
def heartbeats(storage, trial_ids: list[int]) -> Iterator[None]:
    """Record the trials' heartbeats while they run (a thread; nothing without heartbeat storage)."""
    interval = _heartbeat_interval(storage)
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while True:
            for trial_id in trial_ids:
                storage.record_heartbeat(trial_id)
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, name="trial-heartbeats", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
