"""Where a study lives: SQLite in the sweep dir by default, a journal file for parallel
workers on one machine, PostgreSQL (or any RDB URL) for workers on many machines."""

from pathlib import Path

import optuna

JOURNAL = "journal:"


def storage_url(spec: str | None, sweep_dir: Path, study_name: str) -> str:
    if not spec:
        return f"sqlite:///{Path(sweep_dir).resolve() / (study_name + '.db')}"
    if spec.startswith(JOURNAL):
        path = Path(spec[len(JOURNAL):])
        return JOURNAL + str(path if path.is_absolute() else Path(sweep_dir).resolve() / path)
    return spec


def open_storage(url: str, heartbeat: dict | None = None):
    """What optuna.create_study / load_study take for `url`. `heartbeat` ({interval, grace} in
    seconds): RDB storages record the running trials' heartbeats, so a worker that dies on another
    machine is noticed (a journal file serves workers of one machine only: no heartbeats)."""
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len(JOURNAL):]))
    if heartbeat and heartbeat.get("interval"):
        from babysit.search.workers import mark_interrupted

        return optuna.storages.RDBStorage(url, heartbeat_interval=int(heartbeat["interval"]),
                                          grace_period=int(heartbeat["grace"]),
                                          heartbeat_stale_trial_callback=mark_interrupted)
    return url
