"""Where a study lives: SQLite in the sweep dir by default, a journal file for parallel
workers on one machine, PostgreSQL (or any RDB URL) for workers on many machines."""

import functools
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


@functools.cache
def open_storage(url: str) -> optuna.storages.BaseStorage:
    """What optuna.create_study / load_study take for `url`: one storage per URL and process, so that
    the trials of a sweep run in the sweeper's process (Hydra's basic launcher) share its database
    connection instead of opening, and checking the schema of, a new one each."""
    if url.startswith(JOURNAL):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url[len(JOURNAL):]))
    return optuna.storages.RDBStorage(url)
