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


_opened: dict[tuple, optuna.storages.BaseStorage] = {}


def open_storage(url: str, heartbeat: dict | None = None) -> optuna.storages.BaseStorage:
    """What optuna.create_study / load_study take for `url`: one storage per URL and process, so that
    the trials of a sweep run in the sweeper's process (Hydra's basic launcher) share its database
    connection instead of opening, and checking the schema of, a new one each (without `heartbeat`,
    whichever storage of `url` is open already). `heartbeat` ({interval, grace} in seconds): RDB
    storages record the running trials' heartbeats, so a worker that dies on another machine is
    noticed (a journal file serves workers of one machine only: no heartbeats)."""
    beat = heartbeat or {}
    interval = int(beat["interval"]) if beat.get("interval") and not url.startswith(JOURNAL) else None
    key = (url, interval, int(beat.get("grace") or 0) if interval else None)
    if heartbeat is None:
        key = next((k for k in _opened if k[0] == url), key)
    if key not in _opened:
        _opened[key] = _open(url, *key[1:])
    return _opened[key]


def _open(url: str, interval: int | None, grace: int | None) -> optuna.storages.BaseStorage:
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len(JOURNAL):]))
    if interval:
        from babysit.search.workers import mark_interrupted, quiet_heartbeat_warnings

        quiet_heartbeat_warnings()
        return optuna.storages.RDBStorage(url, heartbeat_interval=interval, grace_period=grace,
                                          heartbeat_stale_trial_callback=mark_interrupted)
    return optuna.storages.RDBStorage(url)
