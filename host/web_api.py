"""The web API of SPEC §8.3, served by the AstrBot dashboard (login required).

AstrBot 4.29 serves what ``context.register_web_api`` registers under
``/api/v1/plugins/extensions/<route>`` for GET, POST, PUT, PATCH and DELETE, after its own
auth check (a dashboard JWT as ``Authorization: Bearer <token>`` or the dashboard's login
cookie, or an API key with the ``plugin`` scope). Routes use ``<name>`` for path
parameters, which reach the handler as keyword arguments; the request itself is read
from ``astrbot.api.web.request``.

Everything goes through the plugin's TaskService, so the web API judges requests exactly
as the commands and tools do. The dashboard user is an admin. Every answer is JSON;
errors are ``{"error": "<message>", "status": "error", "message": "<message>"}`` with a 4xx status (503 while the database is not
usable).

The dashboard's Plugin Page bridge (``AstrBotPluginPage.apiGet`` / ``apiPost``) can only
send GET and POST, so ``POST /jobs/<id>`` with ``"_method": "PATCH"`` (plus the fields)
or ``"_method": "DELETE"`` does what PATCH and DELETE do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from astrbot.api import logger
from astrbot.api.web import json_response, request
from pydantic import ValidationError

from ..core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    StoreError,
    StoreUnavailable,
    UserError,
)
from ..core.models import Job
from ..core.service import Actor, JobSpec
from ..core.views import (
    job_view,
    local_time,
    parse_changes,
    parse_create,
    parse_list_query,
    parse_runs_query,
    run_view,
    status_view,
)
from . import core_import
from .known_chats import known_chats

if TYPE_CHECKING:
    from astrbot.api.star import Context

    from .runtime import Runtime

PLUGIN = "astrbot_plugin_future_tasks"
PREFIX = f"/{PLUGIN}"
MAX_BODY_BYTES = 64 * 1024
DASHBOARD_ORIGIN = "webui:FriendMessage:dashboard"
DASHBOARD_SENDER = "dashboard"
DASHBOARD_NAME = "WebUI"

Handler = Callable[..., Awaitable[Any]]
PREVIEW_FIELDS = ("when", "run_at", "every", "cron", "tz")
PREVIEW_RUNS = 3


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def dashboard_actor(origin: str = DASHBOARD_ORIGIN) -> Actor:
    return Actor(
        origin=origin, sender_id=DASHBOARD_SENDER, sender_name=DASHBOARD_NAME, is_admin=True
    )


class WebApi:
    """The route handlers; ``register`` hands them to AstrBot, ``unregister`` takes them back."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # ----- registration --------------------------------------------------------------------

    def routes(self) -> list[tuple[str, Handler, list[str], str]]:
        """(route, handler, methods, description), the catch-all last (first match wins)."""
        return [
            (f"{PREFIX}/jobs", self.jobs, ["GET", "POST"], "Future tasks: list or create jobs"),
            (
                f"{PREFIX}/jobs/<job_id>",
                self.job,
                ["GET", "PATCH", "DELETE", "POST"],
                "Future tasks: show, edit or delete a job",
            ),
            (f"{PREFIX}/jobs/<job_id>/run", self.run, ["POST"], "Future tasks: run a job now"),
            (f"{PREFIX}/jobs/<job_id>/runs", self.runs, ["GET"], "Future tasks: run history"),
            (f"{PREFIX}/status", self.status, ["GET"], "Future tasks: scheduler status"),
            (f"{PREFIX}/chats", self.chats, ["GET"], "Future tasks: the chats the bot knows"),
            (
                f"{PREFIX}/preview",
                self.preview,
                ["GET"],
                "Future tasks: the next runs a schedule would have",
            ),
            (
                f"{PREFIX}/core-tasks",
                self.core_tasks,
                ["GET"],
                "Future tasks: AstrBot's own future tasks, as an import would move them",
            ),
            (
                f"{PREFIX}/core-tasks/import",
                self.import_core_tasks,
                ["POST"],
                "Future tasks: move AstrBot's own future tasks here (disabled there)",
            ),
            (
                f"{PREFIX}/<path:rest>",
                self.fallback,
                ["GET", "POST", "PUT", "PATCH", "DELETE"],
                "Future tasks: unknown route",
            ),
        ]

    def register(self, context: Context) -> None:
        for route, handler, methods, desc in self.routes():
            context.register_web_api(route, handler, methods, desc)

    def unregister(self, context: Context) -> None:
        """Drop this instance's routes (AstrBot keeps them after a plugin is unloaded)."""
        apis = getattr(context, "registered_web_apis", None)
        if isinstance(apis, list):
            apis[:] = [api for api in apis if getattr(api[1], "__self__", None) is not self]

    # ----- handlers ------------------------------------------------------------------------

    async def jobs(self) -> Any:
        if request.method == "POST":
            return await self._answer(self._create, status=201)
        return await self._answer(self._list)

    async def job(self, job_id: str) -> Any:
        method = request.method
        if method == "GET":
            return await self._answer(lambda: self._get(job_id))
        if method == "DELETE":
            return await self._answer(lambda: self._delete(job_id))
        return await self._answer(lambda: self._edit(job_id, override=method == "POST"))

    async def run(self, job_id: str) -> Any:
        return await self._answer(lambda: self._run(job_id), status=202)

    async def runs(self, job_id: str) -> Any:
        return await self._answer(lambda: self._runs(job_id))

    async def status(self) -> Any:
        return await self._answer(self._status)

    async def chats(self) -> Any:
        return await self._answer(self._chats)

    async def preview(self) -> Any:
        return await self._answer(self._preview)

    async def core_tasks(self) -> Any:
        return await self._answer(self._core_tasks)

    async def import_core_tasks(self) -> Any:
        return await self._answer(self._import_core_tasks)

    async def fallback(self, rest: str = "") -> Any:
        path = f"{PREFIX}/{rest.strip('/')}"
        methods = [
            m for route, _, ms, _ in self.routes()[:-1] if _route_matches(route, path) for m in ms
        ]
        if methods:
            return _error(405, f"{request.method} is not allowed here; use {', '.join(methods)}")
        return _error(
            404,
            f"no route {path[:80]!r}; routes: {PREFIX}/jobs, {PREFIX}/jobs/<id>, "
            f"{PREFIX}/jobs/<id>/run, {PREFIX}/jobs/<id>/runs, {PREFIX}/status",
        )

    # ----- the work ------------------------------------------------------------------------

    @property
    def service(self):
        return self.runtime.service

    async def _answer(self, work: Callable[[], Awaitable[Any]], *, status: int = 200) -> Any:
        if self.runtime.error or not self.runtime.opened:
            reason = self.runtime.error or "the plugin is starting or stopped"
            return _error(503, f"the task database is not available: {reason}")
        try:
            _require_json()
            return json_response(await work(), status_code=status)
        except ApiError as exc:
            return _error(exc.status, exc.message)
        except NotFound as exc:
            return _error(404, str(exc))
        except PermissionDenied as exc:
            return _error(403, str(exc))
        except Conflict as exc:
            return _error(409, str(exc))
        except StoreUnavailable as exc:
            return _error(503, str(exc))
        except UserError as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, f"the task database is not available: {exc}")
        except ValidationError as exc:  # a value the models refuse: bad input, not a crash
            return _error(400, f"invalid value: {exc.errors()[0].get('msg', exc)}")
        except Exception as exc:
            logger.exception(f"[future tasks] web API {request.method} {request.path} failed")
            return _error(500, f"internal error: {type(exc).__name__}")

    async def _body(self) -> Any:
        length = request.headers.get("content-length")
        if length and length.strip().isdigit() and int(length) > MAX_BODY_BYTES:
            raise ApiError(413, f"the body is larger than {MAX_BODY_BYTES // 1024} KB")
        raw = await _read_body(MAX_BODY_BYTES)
        if not raw.strip():
            raise ApiError(400, "the body is empty; send a JSON object")
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ApiError(400, "the body is not valid JSON; send a JSON object") from None

    async def _list(self) -> dict[str, Any]:
        query = parse_list_query(request.query)
        page = await self.service.list(
            dashboard_actor(),
            all_jobs=True,
            query=query["query"],
            owner=query["owner"],
            enabled=query["enabled"],
            limit=query["limit"],
            offset=query["offset"],
        )
        return {
            "jobs": [job_view(job) for job in page.jobs],
            "total": page.total,
            "limit": query["limit"],
            "offset": query["offset"],
        }

    async def _create(self) -> dict[str, Any]:
        wanted = parse_create(await self._body())
        actor = Actor(
            origin=wanted.session,
            sender_id=wanted.owner_id,
            sender_name=wanted.owner_name,
            is_admin=True,
        )
        job = await self.service.create(actor, wanted.spec)
        return {"job": job_view(job), "reply": await self._reply(job)}

    async def _reply(self, job: Job) -> str:
        try:
            return await self.runtime.creation_reply(job)
        except Exception:  # the job exists; a note that cannot be written is no failure
            return f"id: {job.id}"

    async def _get(self, job_id: str) -> dict[str, Any]:
        return {"job": job_view(await self.service.get(dashboard_actor(), job_id))}

    async def _edit(self, job_id: str, *, override: bool) -> dict[str, Any]:
        body = await self._body()
        if override:  # POST /jobs/<id> from the Plugin Page bridge
            if not isinstance(body, dict) or "_method" not in body:
                raise ApiError(
                    405,
                    'POST here needs "_method": "PATCH" or "DELETE"; or send PATCH / DELETE itself',
                )
            body = dict(body)
            method = str(body.pop("_method")).upper()
            if method == "DELETE":
                return await self._delete(job_id)
            if method != "PATCH":
                raise ApiError(400, '_method is "PATCH" or "DELETE"')
        changes = parse_changes(body)
        job = await self.service.get(dashboard_actor(), job_id)
        job = await self.service.edit(dashboard_actor(job.owner.origin), job.id, changes)
        return {"job": job_view(job)}

    async def _delete(self, job_id: str) -> dict[str, Any]:
        job = await self.service.cancel(dashboard_actor(), job_id)
        return {"deleted": job.id, "job": job_view(job)}

    async def _run(self, job_id: str) -> dict[str, Any]:
        job = await self.service.get(dashboard_actor(), job_id)
        run_id = await self.service.run_now(dashboard_actor(job.owner.origin), job.id)
        return {"run_id": run_id, "job_id": job.id}

    async def _runs(self, job_id: str) -> dict[str, Any]:
        query = parse_runs_query(request.query)
        job = await self.service.get(dashboard_actor(), job_id)
        runs, total = await self.service.history(
            dashboard_actor(),
            job.id,
            limit=query["limit"],
            offset=query["offset"],
            status=query["status"],
        )
        return {
            "runs": [run_view(run, job.schedule.tz) for run in runs],
            "total": total,
            "limit": query["limit"],
            "offset": query["offset"],
        }

    async def _chats(self) -> dict[str, Any]:
        query = str(request.query.get("q") or "")[:200]
        chats = await known_chats(self.runtime.context, self.runtime.store, query)
        return {"chats": [chat.view() for chat in chats]}

    async def _preview(self) -> dict[str, Any]:
        """The next runs of a schedule given as a create would give it (``when``, ``run_at``,
        ``every`` or ``cron``, and ``tz``), parsed by the service's own parser."""
        wanted = {k: v for k, v in request.query.items() if k in PREVIEW_FIELDS and v}
        schedule, runs = self.service.preview(JobSpec.from_mapping(wanted), PREVIEW_RUNS)
        return {
            "kind": schedule.kind.value,
            "tz": schedule.tz,
            "runs": [{"at": at, "local": local_time(at, schedule.tz)} for at in runs],
        }

    async def _core_tasks(self) -> dict[str, Any]:
        """AstrBot's own enabled future tasks; ``two_schedulers`` when they and its
        ``future_task`` tool are both active beside this plugin."""
        context = self.runtime.context
        tasks = await core_import.core_tasks(context)
        proactive = core_import.proactive_tools_on(context)
        return {
            "tasks": [task.view() for task in tasks],
            "proactive": proactive,
            "two_schedulers": bool(tasks) and proactive,
        }

    async def _import_core_tasks(self) -> dict[str, Any]:
        context = self.runtime.context
        tasks = await core_import.core_tasks(context)
        moved = await core_import.move_tasks(context, self.service, tasks)
        return {"moved": [asdict(m) for m in moved], "reply": core_import.moved_text(moved)}

    async def _status(self) -> dict[str, Any]:
        return status_view(await self.service.status(), self.runtime.settings.timezone)


async def _read_body(limit: int) -> bytes:
    """The request body, refused once it passes ``limit`` bytes (a body sent without a
    Content-Length is counted as it arrives, not read whole first)."""
    too_big = ApiError(413, f"the body is larger than {limit // 1024} KB")
    starlette_request = getattr(request, "_request", None)
    stream = getattr(starlette_request, "stream", None)
    if stream is None:
        raw = await request.body()
        if len(raw) > limit:
            raise too_big
        return raw
    chunks, size = [], 0
    async for chunk in stream():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json() -> None:
    """A request that changes something sends JSON or nothing: a 415 for any other body
    type, so a plain HTML form on another site can never post here with the dashboard's
    login cookie (browsers send forms as urlencoded, multipart or text/plain)."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    headers = request.headers
    kind = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if kind == "application/json":
        return
    length = (headers.get("content-length") or "").strip()
    has_body = (length.isdigit() and int(length) > 0) or bool(headers.get("transfer-encoding"))
    if kind or has_body:
        raise ApiError(
            415,
            f"the body must be JSON (Content-Type: application/json), not {kind or 'untyped'}",
        )


def _error(status: int, message: str) -> Any:
    # ``status``/``message`` are what the dashboard's Plugin Page bridge reads
    return json_response(
        {"error": message, "status": "error", "message": message}, status_code=status
    )


def _route_matches(route: str, path: str) -> bool:
    pattern = re.sub(r"<[A-Za-z_][A-Za-z0-9_]*>", "[^/]+", re.escape(route))
    return re.fullmatch(pattern, path) is not None
