"""Schema migrations, one list of statements per version (kept in ``PRAGMA user_version``).

Never edit a released step: add a new one. ``Store.open`` copies the file aside before
it upgrades an existing database.
"""

from __future__ import annotations

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            owner_origin TEXT NOT NULL,
            owner_key TEXT NOT NULL,
            body TEXT NOT NULL,
            enabled INTEGER NOT NULL,
            next_run_at INTEGER,
            next_slot_at INTEGER,
            running_run_id TEXT,
            running_slot_at INTEGER,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )""",
        "CREATE INDEX jobs_due ON jobs (enabled, next_run_at)",
        "CREATE INDEX jobs_owner ON jobs (owner_key, owner_origin)",
        "CREATE INDEX jobs_running ON jobs (running_run_id) WHERE running_run_id IS NOT NULL",
        """CREATE TABLE runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL UNIQUE,
            job_id TEXT NOT NULL,
            trigger TEXT NOT NULL,
            slot_at INTEGER,
            started_at INTEGER NOT NULL,
            ended_at INTEGER,
            status TEXT NOT NULL,
            late INTEGER NOT NULL DEFAULT 0,
            delivery TEXT NOT NULL,
            output TEXT,
            error TEXT
        )""",
        "CREATE INDEX runs_job ON runs (job_id, seq)",
        """CREATE TABLE pending_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            owner_origin TEXT NOT NULL,
            job_id TEXT,
            text TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )""",
        "CREATE INDEX pending_events_origin ON pending_events (owner_origin)",
        """CREATE TABLE routes (
            owner_key TEXT PRIMARY KEY,
            umo TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )""",
    ],
    # Claimed rows stay in jobs_due; with 10 000 due at once every later claim batch
    # walked past all the claimed ones. This index holds only the unclaimed.
    2: [
        "CREATE INDEX jobs_due_free ON jobs (enabled, next_run_at) WHERE running_run_id IS NULL",
    ],
    # One writer: every write of a job checks the version it read (compare-and-set), so
    # an edit racing a finished run cannot bring back a slot that ran. ``set_aside``
    # holds why a job that cannot go on was taken out of the schedule (shown in status).
    3: [
        "ALTER TABLE jobs ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE jobs ADD COLUMN set_aside TEXT",
    ],
}

SCHEMA_VERSION = max(MIGRATIONS)
