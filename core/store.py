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
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiosqlite
from pydantic import ValidationError

from .errors import StoreError
from .migrations import MIGRATIONS, SCHEMA_VERSION
from .models import Delivery, Job, Run, Trigger

# Files up to this size are checked before the scheduler starts (~50 ms); larger ones
# (hundreds of thousands of jobs) are checked beside it, so start-up stays under a second.
SYNC_CHECK_MAX_BYTES = 64 * 1024 * 1024
_JOB_COLUMNS = (
    "id, body, enabled, next_run_at, next_slot_at, running_run_id, running_slot_at, version, "
    "owner_origin"
)
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


@dataclass(slots=True)
class JobState:
    """What a write checks: the row's version and its claim marker."""

    version: int
    running_run_id: str | None


@dataclass(slots=True)
class JobWrite:
    """One write of a job row, checked against the version its writer read.

    ``job`` is the new state (``version`` 0: a new row); ``delete`` removes the row;
    ``aside`` sets the job aside with that reason (with no ``job``: a row that no longer
    loads, whose columns alone are changed); ``release`` is the claim marker this write
    ends (the row must still carry it)."""

    job_id: str
    version: int
    job: Job | None = None
    delete: bool = False
    aside: str | None = None
    release: str | None = None


@dataclass(slots=True)
class Unloadable:
    """A stored row that no longer loads as a job."""

    job_id: str
    origin: str
    version: int
    reason: str
    running_run_id: str | None = None

    def set_aside(self) -> JobWrite:
        return JobWrite(self.job_id, self.version, aside=self.reason, release=self.running_run_id)


@dataclass(slots=True)
class Loaded:
    jobs: list[Job]
    broken: list[Unloadable]


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
                f"job {row[0]} is stored in a form that cannot be read: {_first_error(exc)}"
            ) from exc
        job.enabled = bool(row[2])
        job.next_run_at = row[3]  # type: ignore[assignment]
        job.next_slot_at = row[4]  # type: ignore[assignment]
        job.running_run_id = row[5]  # type: ignore[assignment]
        job.running_slot_at = row[6]  # type: ignore[assignment]
        job.version = row[7]  # type: ignore[assignment]
        return job

    def load_rows(self, rows: Iterable[Sequence[object]]) -> Loaded:
        """The rows that load as jobs, and apart from them the ones that no longer do."""
        loaded = Loaded([], [])
        for row in rows:
            try:
                loaded.jobs.append(self.job_from_row(row))
            except StoreError as exc:
                loaded.broken.append(
                    Unloadable(row[0], row[8], row[7], str(exc), row[5])  # type: ignore[arg-type]
                )
        return loaded

    async def write_jobs(
        self,
        db: aiosqlite.Connection,
        writes: Sequence[JobWrite],
        current: Mapping[str, JobState] | None = None,
    ) -> set[str]:
        """The one way a job row is written (inserted, updated, set aside, deleted), inside
        the caller's transaction. Each write names the version it read; a row whose version
        moved on since (or whose claim marker is not the one the write releases) is left
        alone and its id returned, for the caller to read again and re-apply.

        ``current`` is the rows' state if the caller read it in this same transaction."""
        if current is None:
            current = await self.job_states([w.job_id for w in writes if w.version], db)
        fits = [w for w in writes if _write_fits(w, current.get(w.job_id))]
        conflicts = {w.job_id for w in writes} - {w.job_id for w in fits}
        inserts = [w for w in fits if not w.version and w.job is not None]
        try:
            await db.executemany(_INSERT_JOB, [_insert_params(w.job) for w in inserts])  # type: ignore[arg-type]
        except sqlite3.IntegrityError:  # an id that exists: a conflict like any other
            return conflicts | {w.job_id for w in inserts}
        for sql, params in _update_statements([w for w in fits if w.version]):
            await db.executemany(sql, params)
        return conflicts

    async def write_job(self, write: JobWrite) -> bool:
        """One write in a transaction of its own; False on a conflict."""
        async with self.transaction() as db:
            return not await self.write_jobs(db, [write])

    async def job_states(
        self, job_ids: Sequence[str], db: aiosqlite.Connection
    ) -> dict[str, JobState]:
        """``id -> (version, claim marker)`` of the jobs that still exist, read inside the
        caller's transaction, without parsing their bodies."""
        rows = await _rows_by_id(db, "id, version, running_run_id", job_ids)
        return {row[0]: JobState(row[1], row[2]) for row in rows}

    async def get_job(self, job_id: str, *, db: aiosqlite.Connection | None = None) -> Job | None:
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id=?"
        if db is not None:
            async with db.execute(sql, (job_id,)) as cur:
                row = await cur.fetchone()
        else:
            row = await self._fetchone(sql, (job_id,))
        return self.job_from_row(row) if row else None

    async def get_jobs(self, job_ids: Sequence[str], db: aiosqlite.Connection) -> Loaded:
        """The jobs with these ids that still exist, inside a transaction."""
        return self.load_rows(await _rows_by_id(db, _JOB_COLUMNS, job_ids))

    async def set_aside_jobs(self, *, owner_key_is: str | None = None) -> list[dict[str, str]]:
        """The jobs taken out of the schedule because they cannot go on, with the reason
        (one owner's only, when given)."""
        sql = "SELECT id, set_aside FROM jobs WHERE set_aside IS NOT NULL"
        params: tuple[str, ...] = ()
        if owner_key_is is not None:
            sql += " AND owner_key=?"
            params = (owner_key_is,)
        rows = await self._fetchall(sql + " ORDER BY id", params)
        return [{"id": row[0], "reason": row[1]} for row in rows]

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
        # A row that no longer loads is left out here: the status lists it, set aside.
        jobs = self.load_rows(rows).jobs
        return JobPage(jobs, int(total_row[0]) if total_row else 0)

    async def count_jobs(
        self, *, owner_key_is: str | None = None, db: aiosqlite.Connection | None = None
    ) -> int:
        """How many jobs there are (of one owner); inside the caller's transaction if given,
        so a quota check and the insert it allows are one step."""
        sql, params = "SELECT count(*) FROM jobs", ()
        if owner_key_is is not None:
            sql, params = sql + " WHERE owner_key=?", (owner_key_is,)
        if db is None:
            row = await self._fetchone(sql, params)
        else:
            async with db.execute(sql, params) as cur:
                row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def delete_job(self, job_id: str) -> bool:
        """Delete a job whatever state it is in (the owner's word wins over a running
        claim); False if it was not there."""
        async with self.transaction() as db:
            state = (await self.job_states([job_id], db)).get(job_id)
            if state is None:
                return False
            write = JobWrite(job_id, state.version, delete=True)
            return not await self.write_jobs(db, [write], {job_id: state})

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

    async def claim_due(self, now_ms: int, limit: int) -> Loaded:
        """Mark up to ``limit`` due jobs as running and open their run rows, atomically
        (``policy.transition`` on ``Claimed``, in SQL for speed). A claimed row that no
        longer loads is set aside in the same transaction; the others are unaffected."""
        return await self._claim(
            "running_slot_at = next_slot_at WHERE id IN (SELECT id FROM jobs INDEXED BY "
            "jobs_due_free WHERE enabled=1 AND next_run_at <= ? AND running_run_id IS NULL "
            "ORDER BY next_run_at LIMIT ?)",
            (now_ms, limit),
            now_ms,
            Trigger.SCHEDULE,
        )

    async def claim_job(self, job_id: str, now_ms: int, trigger: Trigger) -> Job | None:
        """Claim one job for a manual run; None if it is missing, already running, or
        no longer loads (then it is set aside).

        If the job is due, the manual run *is* its due run (the slot is consumed), so a
        manual run and the timer meeting on one slot execute it once.
        """
        loaded = await self._claim(
            "running_slot_at = CASE WHEN enabled=1 AND next_run_at <= ? THEN next_slot_at "
            "ELSE NULL END WHERE id=? AND running_run_id IS NULL",
            (now_ms, job_id),
            now_ms,
            trigger,
        )
        return loaded.jobs[0] if loaded.jobs else None

    async def _claim(
        self, where: str, params: tuple[object, ...], now_ms: int, trigger: Trigger
    ) -> Loaded:
        token = self.new_claim_token(now_ms)
        async with self.transaction() as db:
            async with db.execute(
                "UPDATE jobs SET version = version + 1, running_run_id = id || '-' || ?, "
                f"{where} RETURNING {_JOB_COLUMNS}",
                (token, *params),
            ) as cur:
                loaded = self.load_rows(await cur.fetchall())
            await self._open_runs(db, loaded.jobs, now_ms, trigger)
            if loaded.broken:
                states = {b.job_id: JobState(b.version, b.running_run_id) for b in loaded.broken}
                await self.write_jobs(db, [b.set_aside() for b in loaded.broken], states)
        return loaded

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

    async def claimed_jobs(self) -> Loaded:
        """Jobs that carry a claim marker: at start-up, runs a crash interrupted."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE running_run_id IS NOT NULL"
        )
        return self.load_rows(rows)

    async def overdue_jobs(
        self, now_ms: int, after: tuple[int, str] = (-(2**62), ""), limit: int = 1000
    ) -> tuple[Loaded, tuple[int, str] | None]:
        """Enabled, unclaimed jobs due before ``now_ms``, a page at a time, in due order
        after the ``(next_run_at, id)`` key ``after`` (served by the due index); and the
        key of the page's last row (None when the page is empty)."""
        rows = await self._fetchall(
            f"SELECT {_JOB_COLUMNS} FROM jobs INDEXED BY jobs_due_free WHERE enabled=1 AND "
            "next_run_at < ? AND running_run_id IS NULL AND (next_run_at, id) > (?, ?) "
            "ORDER BY next_run_at, id LIMIT ?",
            (now_ms, after[0], after[1], limit),
        )
        last = (rows[-1][3], rows[-1][0]) if rows else None
        return self.load_rows(rows), last

    async def finish_runs(self, db: aiosqlite.Connection, finished: Iterable[RunFinish]) -> None:
        """Close a batch of run rows inside the caller's transaction (a delivery already
        recorded stays recorded)."""
        await db.executemany(
            "UPDATE runs SET ended_at=?, status=?, "
            "delivery=CASE WHEN delivery='delivered' THEN 'delivered' ELSE ? END, "
            "output=?, error=?, late=? WHERE run_id=?",
            [
                (f.ended_at, f.status, f.delivery, f.output, f.error, int(f.late), f.run_id)
                for f in finished
            ],
        )

    async def mark_delivered(
        self, marks: Sequence[tuple[str, Delivery]], db: aiosqlite.Connection
    ) -> None:
        """Record, inside the caller's transaction, that a run's output was sent
        (``delivered``) or may have been (``unknown``), so a crash after it does not send
        again. A ``delivered`` mark is never taken back."""
        await db.executemany(
            "UPDATE runs SET delivery=? WHERE run_id=? AND delivery<>'delivered'",
            [(delivery.value, run_id) for run_id, delivery in marks],
        )

    async def run_delivery_mark(self, run_id: str) -> Delivery | None:
        """The delivery marked while the run went on (``delivered`` / ``unknown``), if any."""
        row = await self._fetchone("SELECT delivery FROM runs WHERE run_id=?", (run_id,))
        marked = (Delivery.DELIVERED.value, Delivery.UNKNOWN.value)
        return Delivery(row[0]) if row and row[0] in marked else None

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

    async def pending_event_job_ids(self, origin: str) -> list[str]:
        """The jobs whose events wait for this chat's next heartbeat."""
        rows = await self._fetchall(
            "SELECT DISTINCT job_id FROM pending_events WHERE owner_origin=? AND job_id IS NOT NULL",
            (origin,),
        )
        return [r[0] for r in rows]

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

    async def list_routes(self, limit: int = 500) -> list[tuple[str, int]]:
        """(chat, last seen) of the routes the plugin has seen, newest first."""
        rows = await self._fetchall(
            "SELECT umo, MAX(updated_at) FROM routes GROUP BY umo ORDER BY 2 DESC LIMIT ?",
            (limit,),
        )
        return [(r[0], r[1]) for r in rows]

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


_INSERT_JOB = (
    "INSERT INTO jobs (id, owner_origin, owner_key, body, enabled, next_run_at, next_slot_at, "
    "updated_at, created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
)
_SET_FIELDS = "body=?, enabled=?, next_run_at=?, next_slot_at=?, updated_at=?, set_aside=?"
_RELEASE = ", running_run_id=NULL, running_slot_at=NULL"
_CHECK = "WHERE id=? AND version=?"


def _write_fits(write: JobWrite, state: JobState | None) -> bool:
    """Whether the row is still as the writer read it."""
    if not write.version:
        return write.job is not None
    if state is None or state.version != write.version:
        return False
    return write.release is None or state.running_run_id == write.release


def _job_fields(job: Job, aside: str | None) -> tuple[object, ...]:
    return (
        job.model_dump_json(),
        int(job.enabled),
        job.next_run_at,
        job.next_slot_at,
        job.updated_at,
        aside,
    )


def _insert_params(job: Job) -> tuple[object, ...]:
    key = owner_key(job.owner.origin, job.owner.sender_id)
    return (job.id, job.owner.origin, key, *_job_fields(job, None)[:5], job.created_at)


def _update_statements(writes: Sequence[JobWrite]) -> list[tuple[str, list[tuple[object, ...]]]]:
    """The SQL for checked writes of existing rows, grouped so each runs as one batch."""
    saved, released, asides, deleted, cancelled = [], [], [], [], []
    for w in writes:
        check = (w.job_id, w.version)
        if w.delete:
            deleted.append(check)
            if w.release is None:  # a one-shot done with its run keeps what it queued
                cancelled.append((w.job_id,))
        elif w.job is None:
            asides.append((w.aside, *check))
        elif w.release is None:
            saved.append((*_job_fields(w.job, w.aside), *check))
        else:
            released.append((*_job_fields(w.job, w.aside), *check))
    bump = ", version=version+1"
    aside_only = (
        "UPDATE jobs SET enabled=0, next_run_at=NULL, next_slot_at=NULL, set_aside=?"
        f"{_RELEASE}{bump} {_CHECK}"
    )
    statements = [
        (f"UPDATE jobs SET {_SET_FIELDS}{bump} {_CHECK}", saved),
        (f"UPDATE jobs SET {_SET_FIELDS}{_RELEASE}{bump} {_CHECK}", released),
        (aside_only, asides),
        (f"DELETE FROM jobs {_CHECK}", deleted),
        ("DELETE FROM pending_events WHERE job_id=?", cancelled),
    ]
    return [(sql, params) for sql, params in statements if params]


def _first_error(exc: ValidationError) -> str:
    """The first thing pydantic found wrong, short enough for a status line."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}"[:200] if where else str(first.get("msg", ""))[:200]
