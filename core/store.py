"""SQLite storage: the source of truth for jobs, runs, pending events and routes.

One aiosqlite connection, WAL mode, explicit transactions behind one asyncio lock (so
a service write can never land inside the engine's batch and be rolled back with it).
The hot paths are set-based: due jobs are claimed with one ``UPDATE … RETURNING`` per
batch and outcomes are applied with ``executemany``, because a thread hop per row
would cap throughput far below the targets.

A database that cannot be read is never replaced or repaired: ``open`` raises
StoreError and leaves the file exactly as it found it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from pydantic import ValidationError

from .errors import StoreError
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .models import Job, Run, Trigger

# Files up to this size are checked before the scheduler starts (~50 ms); larger ones
# (hundreds of thousands of jobs) are checked beside it, so start-up stays under a second.
SYNC_CHECK_MAX_BYTES = 64 * 1024 * 1024
_JOB_COLUMNS = "id, body, enabled, next_run_at, next_slot_at, running_run_id, running_slot_at"
_RUN_COLUMNS = (
    "run_id, job_id, trigger, slot_at, started_at, ended_at, status, late, delivery, output, error"
)


@dataclass(slots=True)
class JobPage:
    jobs: list[Job]
    total: int


@dataclass(slots=True)
class RunFinish:
    """The end of a run, as written by the engine's applier."""

    run_id: str
    ended_at: int
    status: str
    delivery: str
    output: str
    error: str
    late: bool = False


def owner_key(origin: str, sender_id: str) -> str:
    """Who a user is across their chats: the platform id plus their sender id."""
    return f"{origin.split(':', 1)[0]}:{sender_id}"


APPLICATION_ID = int.from_bytes(b"FuTk", "big")
"""``PRAGMA application_id`` of this plugin's databases, so ``database_path`` pointed at
another program's SQLite file is refused instead of being migrated into ours."""


class Store:
    """The plugin's database. Call ``open`` before use and ``close`` when done."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        """How long a write waits for another program's lock before it fails."""
        self._db: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._claim_counter = 0
        self.integrity_pending = False

    # ----- opening, checking, migrating ---------------------------------------------------

    async def open(self, *, integrity_check: bool = True) -> None:
        """Open (or create) the database; StoreError if an existing file is unreadable."""
        existed = self.path.exists() and self.path.stat().st_size > 0
        if not existed:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = await aiosqlite.connect(self.path, isolation_level=None)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the task database {self.path}: {exc}") from exc
        try:
            version = await self._read_version(db)
            if existed:
                await self._check_ours(db, version)
            if existed and integrity_check:
                if self.path.stat().st_size <= SYNC_CHECK_MAX_BYTES or version < SCHEMA_VERSION:
                    await self._check_integrity(db)
                else:  # a large file: checked beside the running scheduler instead
                    self.integrity_pending = True
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the task database {self.path} has schema version {version}, newer than "
                    f"this plugin's {SCHEMA_VERSION}; update the plugin (the file is left as is)"
                )
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_ms)}")
            await db.execute("PRAGMA foreign_keys=OFF")
            if version < SCHEMA_VERSION:
                if existed and version > 0:
                    await self._backup(db, version)
                await self._migrate(db, version)
            await db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        except BaseException:
            await db.close()
            raise
        self._db = db

    async def _read_version(self, db: aiosqlite.Connection) -> int:
        try:
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            async with db.execute("SELECT count(*) FROM sqlite_master") as cur:
                await cur.fetchone()
        except sqlite3.Error as exc:
            raise StoreError(
                f"the task database {self.path} cannot be read ({exc}); it was left untouched. "
                "Restore it from a backup or move it away, then reload the plugin."
            ) from exc
        return int(row[0]) if row else 0

    async def _check_ours(self, db: aiosqlite.Connection, version: int) -> None:
        """Refuse, before writing anything, a SQLite file that belongs to someone else: one
        marked with another application id, or unmarked with tables that are not ours.
        A file of an older plugin version (our tables, no id yet) is ours and gets marked."""
        async with db.execute("PRAGMA application_id") as cur:
            row = await cur.fetchone()
        app_id = int(row[0]) if row else 0
        async with db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        ) as cur:
            tables = {str(r[0]) for r in await cur.fetchall()}
        if app_id == APPLICATION_ID:
            return
        unmarked_ours = app_id == 0 and (
            (not tables and version == 0) or ({"jobs", "runs"} <= tables and version > 0)
        )
        if not unmarked_ours:
            raise StoreError(
                f"{self.path} is a SQLite database of another program, not this plugin's; "
                "it was left untouched. Point database_path at a new file (or leave it empty "
                "for the plugin's data folder) and reload the plugin."
            )

    async def _check_integrity(self, db: aiosqlite.Connection) -> None:
        try:
            async with db.execute("PRAGMA quick_check(1)") as cur:
                row = await cur.fetchone()
        except sqlite3.Error as exc:
            row = (str(exc),)
        self._raise_unless_ok(row)

    async def check_integrity_aside(self) -> None:
        """The integrity check of a large file, on a read-only connection of its own in a
        thread, so the scheduler keeps firing meanwhile (WAL lets readers run alongside)."""

        def check() -> tuple[str] | None:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                try:
                    return conn.execute("PRAGMA quick_check(1)").fetchone()
                except sqlite3.Error as exc:
                    return (str(exc),)

        row = await asyncio.to_thread(check)
        self.integrity_pending = False
        self._raise_unless_ok(row)

    def _raise_unless_ok(self, row: Sequence[object] | None) -> None:
        if not row or row[0] != "ok":
            raise StoreError(
                f"the task database {self.path} failed its integrity check ({row[0] if row else '?'}); "
                "it was left untouched. Restore it from a backup or move it away, then reload."
            )

    async def _backup(self, db: aiosqlite.Connection, version: int) -> None:
        """Copy the file aside before a schema upgrade, so an upgrade can be undone."""
        target = self.path.with_name(f"{self.path.name}.v{version}.bak")
        await db.execute("PRAGMA wal_checkpoint(FULL)")
        await asyncio.to_thread(shutil.copy2, self.path, target)

    async def _migrate(self, db: aiosqlite.Connection, version: int) -> None:
        for target_version in range(version + 1, SCHEMA_VERSION + 1):
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[target_version]:
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version={target_version}")
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None

    @property
    def db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the task database is not open")
        return self._db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction; nothing else touches the connection meanwhile."""
        async with self._lock:
            db = self.db
            await db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                await db.execute("ROLLBACK")
                raise
            await db.execute("COMMIT")

    async def _fetchall(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        async with self._lock, self.db.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def _fetchone(self, sql: str, params: Sequence[object] = ()) -> sqlite3.Row | None:
        async with self._lock, self.db.execute(sql, params) as cur:
            return await cur.fetchone()

    # ----- jobs ---------------------------------------------------------------------------

    @staticmethod
    def job_from_row(row: Sequence[object]) -> Job:
        """A Job from a ``_JOB_COLUMNS`` row; the columns win over the JSON body."""
        try:
            job = Job.model_validate_json(row[1])  # type: ignore[arg-type]
        except ValidationError as exc:
            raise StoreError(
                f"job {row[0]} is stored in a form that cannot be read: {exc}"
            ) from exc
        job.enabled = bool(row[2])
        job.next_run_at = row[3]  # type: ignore[assignment]
        job.next_slot_at = row[4]  # type: ignore[assignment]
        job.running_run_id = row[5]  # type: ignore[assignment]
        job.running_slot_at = row[6]  # type: ignore[assignment]
        return job

    @staticmethod
    def _job_params(job: Job) -> tuple[object, ...]:
        return (
            job.model_dump_json(),
            int(job.enabled),
            job.next_run_at,
            job.next_slot_at,
            job.updated_at,
        )

    async def insert_job(self, job: Job) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO jobs (id, owner_origin, owner_key, body, enabled, next_run_at, "
                "next_slot_at, updated_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job.id,
                    job.owner.origin,
                    owner_key(job.owner.origin, job.owner.sender_id),
                    *self._job_params(job),
                    job.created_at,
                ),
            )

    async def save_job(self, job: Job, *, db: aiosqlite.Connection | None = None) -> bool:
        """Write a job's fields back (not its claim marker); False if it is gone."""
        sql = (
            "UPDATE jobs SET body=?, enabled=?, next_run_at=?, next_slot_at=?, updated_at=? "
            "WHERE id=?"
        )
        params = (*self._job_params(job), job.id)
        if db is not None:
            cur = await db.execute(sql, params)
            return cur.rowcount > 0
        async with self.transaction() as tx:
            cur = await tx.execute(sql, params)
            return cur.rowcount > 0

    async def save_jobs(self, jobs: Sequence[Job], db: aiosqlite.Connection) -> None:
        """Write many jobs' fields back inside the caller's transaction."""
        await db.executemany(
            "UPDATE jobs SET body=?, enabled=?, next_run_at=?, next_slot_at=?, updated_at=? "
            "WHERE id=?",
            [(*self._job_params(job), job.id) for job in jobs],
        )

    async def get_job(self, job_id: str, *, db: aiosqlite.Connection | None = None) -> Job | None:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?"
        if db is not None:
            async with db.execute(sql, (job_id,)) as cur:
                row = await cur.fetchone()
        else:
            row = await self._fetchone(sql, (job_id,))
        return self.job_from_row(row) if row else None

    async def get_jobs(self, job_ids: Sequence[str], db: aiosqlite.Connection) -> dict[str, Job]:
        """The jobs with these ids that still exist, inside a transaction."""
        rows = await _rows_by_id(db, _JOB_COLUMNS, job_ids)
        return {row[0]: self.job_from_row(row) for row in rows}

    async def claim_states(
        self, job_ids: Sequence[str], db: aiosqlite.Connection
    ) -> dict[str, tuple[str | None, int]]:
        """``id -> (claim marker, updated_at)`` of the jobs that still exist: enough to tell
        whether a claimed job changed while it ran, without parsing its body again."""
        rows = await _rows_by_id(db, "id, running_run_id, updated_at", job_ids)
        return {row[0]: (row[1], row[2]) for row in rows}

    async def delete_job(self, job_id: str) -> bool:
        async with self.transaction() as db:
            cur = await db.execute("DELETE FROM jobs WHERE id=?", (job_id,))
            await db.execute("DELETE FROM pending_events WHERE job_id=?", (job_id,))
            return cur.rowcount > 0

    async def list_jobs(
        self,
        *,
        owner_key_is: str | None = None,
        origin: str | None = None,
        enabled: bool | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> JobPage:
        where, params = [], []
        if owner_key_is is not None:
            where.append("owner_key=?")
            params.append(owner_key_is)
        if origin is not None:
            where.append("owner_origin=?")
            params.append(origin)
        if enabled is not None:
            where.append("enabled=?")
            params.append(int(enabled))
        if query:
            where.append("(id LIKE ? ESCAPE '\\' OR body LIKE ? ESCAPE '\\')")
            like = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [like, like]
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total_row = await self._fetchone(f"SELECT count(*) FROM jobs {clause}", params)
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs {clause} "
            "ORDER BY next_run_at IS NULL, next_run_at, created_at LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return JobPage([self.job_from_row(r) for r in rows], int(total_row[0]) if total_row else 0)

    async def count_jobs(self, *, owner_key_is: str | None = None) -> int:
        if owner_key_is is None:
            row = await self._fetchone("SELECT count(*) FROM jobs")
        else:
            row = await self._fetchone(
                "SELECT count(*) FROM jobs WHERE owner_key=?", (owner_key_is,)
            )
        return int(row[0]) if row else 0

    async def counts(self) -> dict[str, int]:
        row = await self._fetchone(
            "SELECT count(*), coalesce(sum(enabled), 0), "
            "coalesce(sum(running_run_id IS NOT NULL), 0) FROM jobs"
        )
        total, enabled, running = (int(v) for v in row) if row else (0, 0, 0)
        return {"total": total, "enabled": enabled, "disabled": total - enabled, "running": running}

    async def next_due_at(self) -> int | None:
        """When the earliest enabled, unclaimed job is due (served by the due index)."""
        row = await self._fetchone(
            "SELECT next_run_at FROM jobs INDEXED BY jobs_due_free WHERE enabled=1 AND "
            "next_run_at IS NOT NULL AND running_run_id IS NULL ORDER BY next_run_at LIMIT 1"
        )
        return row[0] if row else None

    # ----- claims and runs ------------------------------------------------------------------

    def new_claim_token(self, now_ms: int) -> str:
        self._claim_counter += 1
        return f"{_base36(now_ms)}{_base36(self._claim_counter)}"

    async def claim_due(self, now_ms: int, limit: int) -> list[Job]:
        """Mark up to ``limit`` due jobs as running and open their run rows, atomically."""
        token = self.new_claim_token(now_ms)
        async with self.transaction() as db:
            async with db.execute(
                "UPDATE jobs SET running_run_id = id || '-' || ?, running_slot_at = next_slot_at "
                "WHERE id IN (SELECT id FROM jobs INDEXED BY jobs_due_free WHERE enabled=1 AND "
                "next_run_at <= ? AND running_run_id IS NULL ORDER BY next_run_at LIMIT ?) "
                f"RETURNING {_JOB_COLUMNS}",
                (token, now_ms, limit),
            ) as cur:
                rows = await cur.fetchall()
            jobs = [self.job_from_row(row) for row in rows]
            await self._open_runs(db, jobs, now_ms, Trigger.SCHEDULE)
        return jobs

    async def claim_job(self, job_id: str, now_ms: int, trigger: Trigger) -> Job | None:
        """Claim one job for a manual run; None if it is missing or already running.

        If the job is due, the manual run *is* its due run (the slot is consumed), so a
        manual run and the timer meeting on one slot execute it once.
        """
        token = self.new_claim_token(now_ms)
        async with self.transaction() as db:
            async with db.execute(
                "UPDATE jobs SET running_run_id = id || '-' || ?, running_slot_at = CASE WHEN "
                "enabled=1 AND next_run_at <= ? THEN next_slot_at ELSE NULL END "
                f"WHERE id=? AND running_run_id IS NULL RETURNING {_JOB_COLUMNS}",
                (token, now_ms, job_id),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            job = self.job_from_row(row)
            await self._open_runs(db, [job], now_ms, trigger)
        return job

    @staticmethod
    async def _open_runs(
        db: aiosqlite.Connection, jobs: list[Job], now_ms: int, trigger: Trigger
    ) -> None:
        await db.executemany(
            "INSERT INTO runs (run_id, job_id, trigger, slot_at, started_at, status, delivery) "
            "VALUES (?, ?, ?, ?, ?, 'running', 'pending')",
            [
                (
                    job.running_run_id,
                    job.id,
                    Trigger.RETRY if job.retries and trigger == Trigger.SCHEDULE else trigger,
                    job.running_slot_at,
                    now_ms,
                )
                for job in jobs
            ],
        )

    async def claimed_jobs(self) -> list[Job]:
        """Jobs that carry a claim marker: at start-up, runs a crash interrupted."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE running_run_id IS NOT NULL"
        )
        return [self.job_from_row(r) for r in rows]

    async def overdue_jobs(
        self, now_ms: int, after: tuple[int, str] = (-(2**62), ""), limit: int = 1000
    ) -> list[Job]:
        """Enabled, unclaimed jobs due before ``now_ms``, a page at a time, in due order
        after the ``(next_run_at, id)`` key ``after`` (served by the due index)."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs INDEXED BY jobs_due_free WHERE enabled=1 AND "
            "next_run_at < ? AND running_run_id IS NULL AND (next_run_at, id) > (?, ?) "
            "ORDER BY next_run_at, id LIMIT ?",
            (now_ms, after[0], after[1], limit),
        )
        return [self.job_from_row(r) for r in rows]

    async def finish_runs(
        self,
        db: aiosqlite.Connection,
        finished: Iterable[RunFinish],
        saved: Sequence[tuple[Job, str]],
        deleted: Sequence[tuple[str, str]],
    ) -> None:
        """Apply a batch of outcomes inside the caller's transaction.

        ``saved`` are (job, run_id) pairs and ``deleted`` (job_id, run_id) pairs: each is
        written only while the job still carries that run's claim marker, so a job that
        was deleted or re-claimed meanwhile is left alone.
        """
        await db.executemany(
            "UPDATE runs SET ended_at=?, status=?, "
            "delivery=CASE WHEN delivery='delivered' THEN 'delivered' ELSE ? END, "
            "output=?, error=?, late=? WHERE run_id=?",
            [
                (f.ended_at, f.status, f.delivery, f.output, f.error, int(f.late), f.run_id)
                for f in finished
            ],
        )
        await db.executemany(
            "UPDATE jobs SET body=?, enabled=?, next_run_at=?, next_slot_at=?, updated_at=?, "
            "running_run_id=NULL, running_slot_at=NULL WHERE id=? AND running_run_id=?",
            [(*self._job_params(job), job.id, run_id) for job, run_id in saved],
        )
        if deleted:
            await db.executemany("DELETE FROM jobs WHERE id=? AND running_run_id=?", list(deleted))

    async def mark_delivered(self, run_ids: Sequence[str], db: aiosqlite.Connection) -> None:
        """Record, inside the caller's transaction, that a run's output was sent, so a crash
        after it does not send again."""
        await db.executemany(
            "UPDATE runs SET delivery='delivered' WHERE run_id=?", [(r,) for r in run_ids]
        )

    async def run_delivered(self, run_id: str) -> bool:
        row = await self._fetchone("SELECT delivery FROM runs WHERE run_id=?", (run_id,))
        return bool(row and row[0] == "delivered")

    async def add_runs(self, runs: Sequence[Run], db: aiosqlite.Connection) -> None:
        """Insert finished run rows (missed slots) inside the caller's transaction."""
        await db.executemany(
            f"INSERT OR IGNORE INTO runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.run_id,
                    r.job_id,
                    r.trigger.value,
                    r.slot_at,
                    r.started_at,
                    r.ended_at,
                    r.status.value,
                    int(r.late),
                    r.delivery.value,
                    r.output,
                    r.error,
                )
                for r in runs
            ],
        )

    async def prune_runs(self, db: aiosqlite.Connection, job_ids: Iterable[str], keep: int) -> None:
        """Keep the newest ``keep`` runs of each job (and every run still going)."""
        await db.executemany(
            "DELETE FROM runs WHERE job_id=? AND status != 'running' AND seq <= coalesce(("
            "SELECT seq FROM runs WHERE job_id=? ORDER BY seq DESC LIMIT 1 OFFSET ?), -1)",
            [(job_id, job_id, keep) for job_id in set(job_ids)],
        )

    async def runs_for(
        self, job_id: str, *, limit: int = 20, offset: int = 0, status: str | None = None
    ) -> tuple[list[Run], int]:
        where, params = "job_id=?", [job_id]
        if status:
            where += " AND status=?"
            params.append(status)
        total = await self._fetchone(f"SELECT count(*) FROM runs WHERE {where}", params)
        rows = await self._fetchall(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_run_from_row(r) for r in rows], int(total[0]) if total else 0

    async def run_count_by_status(self, job_id: str | None = None) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM runs"
        params: list[object] = []
        if job_id:
            sql += " WHERE job_id=?"
            params.append(job_id)
        rows = await self._fetchall(sql + " GROUP BY status", params)
        return {r[0]: int(r[1]) for r in rows}

    # ----- pending main-session events and last routes ------------------------------------

    async def add_pending_event(
        self, origin: str, job_id: str | None, text: str, now_ms: int
    ) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO pending_events (owner_origin, job_id, text, created_at) "
                "VALUES (?, ?, ?, ?)",
                (origin, job_id, text, now_ms),
            )

    async def take_pending_events(self, origin: str) -> list[str]:
        async with (
            self.transaction() as db,
            db.execute(
                "DELETE FROM pending_events WHERE owner_origin=? RETURNING text, created_at",
                (origin,),
            ) as cur,
        ):
            rows = await cur.fetchall()
        return [r[0] for r in sorted(rows, key=lambda r: r[1])]

    async def origins_with_pending_events(self) -> list[str]:
        rows = await self._fetchall("SELECT DISTINCT owner_origin FROM pending_events")
        return [r[0] for r in rows]

    async def set_route(self, key: str, umo: str, now_ms: int) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO routes (owner_key, umo, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(owner_key) DO UPDATE SET umo=excluded.umo, updated_at=excluded.updated_at",
                (key, umo, now_ms),
            )

    async def get_route(self, key: str) -> str | None:
        row = await self._fetchone("SELECT umo FROM routes WHERE owner_key=?", (key,))
        return row[0] if row else None


async def _rows_by_id(
    db: aiosqlite.Connection, columns: str, job_ids: Sequence[str]
) -> list[sqlite3.Row]:
    """``SELECT columns FROM jobs WHERE id IN (…)`` in chunks SQLite accepts."""
    rows: list[sqlite3.Row] = []
    for start in range(0, len(job_ids), 500):
        chunk = job_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        async with db.execute(f"SELECT {columns} FROM jobs WHERE id IN ({marks})", chunk) as cur:
            rows += await cur.fetchall()
    return rows


def _run_from_row(row: Sequence[object]) -> Run:
    return Run(
        run_id=row[0], job_id=row[1], trigger=row[2], slot_at=row[3], started_at=row[4],
        ended_at=row[5], status=row[6], late=bool(row[7]), delivery=row[8],
        output=row[9] or "", error=row[10] or "",
    )  # fmt: skip


def _base36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rem = divmod(value, 36)
        out = digits[rem] + out
        if not value:
            return out
