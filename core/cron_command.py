"""The ``/cron`` grammar of SPEC §8.2, parsed into a command the host carries out.

The parser is forgiving where users are sloppy (options before or after the text, an
unquoted cron expression, ``2026-01-12 18:00`` with a space) and strict where a guess
would be wrong: anything it cannot read is a UserError that shows the right form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .errors import UserError
from .phrases import split_phrase
from .request_fields import TAKES_VALUE, cron_options
from .schedule import ScheduleError, validate_cron
from .service import JobChanges, JobSpec
from .timeparse import is_exact_when

USAGE = """/cron add <when> <text>            reminder to this chat
/cron add <when> --agent <text>    agent run (--main: event for the main session)
    <when>: 20m | 1h30m | 2026-01-12T18:00[+08:00] | 08:00 | every 2h | "0 7 * * mon-fri"
            | tomorrow 8am | in 10 minutes | next monday 9:00 | every weekday at 9
            | 明天早上8点 | 十分钟后 | 每周五下午5点 | 每隔两小时
    options: --tz <zone> --name <name> --keep --to <chat> --channel <platform|last>
             --model <provider> --persona <id> --wake now|next-heartbeat --catch-up once|skip|all
             --timeout <seconds> --best-effort --deliver --no-deliver
/cron list [all]                   your tasks
/cron show <id>                    one task in full
/cron rm <id>                      delete
/cron pause <id> | resume <id>     disable / enable
/cron run <id>                     run now (the schedule stays)
/cron runs <id> [n]                run history
/cron edit <id> <when> | --text <text> | --tz <zone> | --name <name> | any add option
/cron status                       scheduler state
/cron wake [--next-heartbeat] <text>   a main-session event now
/cron help"""

ADD_FORM = "/cron add <when> [--agent|--main] [--tz <zone>] [--name <name>] [--keep] ... <text>"

_VERB_ALIASES = {
    "add": "add", "new": "add", "create": "add",
    "list": "list", "ls": "list",
    "show": "show", "info": "show", "get": "show",
    "rm": "rm", "del": "rm", "delete": "rm", "remove": "rm", "cancel": "rm",
    "pause": "pause", "disable": "pause", "stop": "pause",
    "resume": "resume", "enable": "resume", "start": "resume",
    "run": "run", "trigger": "run",
    "runs": "runs", "history": "runs", "log": "runs",
    "edit": "edit", "update": "edit",
    "status": "status",
    "wake": "wake",
    "help": "help",
}  # fmt: skip
_FLAGS = {"--next-heartbeat"}  # /cron wake's own; every other option sets a request field
_FIELD_OPTIONS = cron_options()  # option -> (the JobSpec field, TAKES_VALUE or its fixed value)
OPTIONS = sorted({*_FLAGS, *_FIELD_OPTIONS, "--text"})
_QUOTES = {'"': '"', "'": "'", "“": "”", "「": "」"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?([+-]\d{2}:?\d{2}|Z)?$")
_ID = re.compile(r"^[a-z0-9]{1,32}$")


@dataclass(slots=True)
class CronCommand:
    verb: str
    job_id: str | None = None
    when: str | None = None
    text: str | None = None
    all: bool = False
    count: int | None = None
    next_heartbeat: bool = False
    fields: dict[str, str | bool] = field(default_factory=dict)
    """JobSpec fields set by options (``--to`` -> ``to``, ``--model`` -> ``provider_id``,
    ``--agent`` -> mode isolated), as core/request_fields.py maps them."""


def job_spec(command: CronCommand) -> JobSpec:
    """What ``/cron add`` asks the service to create: the text, the <when> and the options,
    which reach the service as the tools' fields do (its checks apply alike)."""
    return JobSpec(message=command.text or "", when=command.when, **command.fields)


def job_changes(command: CronCommand) -> JobChanges:
    """What ``/cron edit`` asks the service to change."""
    return JobChanges(when=command.when, message=command.text, **command.fields)


def parse(arguments: str) -> CronCommand:
    """Parse what follows ``/cron``."""
    rest = arguments.strip()
    verb_word, _, rest = rest.partition(" ")
    verb = _VERB_ALIASES.get(verb_word.lower().strip())
    if not verb_word or verb == "help":
        return CronCommand("help")
    if verb is None:
        raise UserError(f"unknown subcommand {verb_word[:20]!r}.\n{USAGE}")
    rest = rest.strip()
    if verb == "add":
        return _parse_add(rest)
    if verb == "list":
        return CronCommand("list", all=rest.lower() == "all")
    if verb == "status":
        return CronCommand("status")
    if verb == "wake":
        return _parse_wake(rest)
    job_id, _, rest = rest.partition(" ")
    job_id = _job_id(job_id, verb)
    if verb == "runs":
        return CronCommand("runs", job_id=job_id, count=_count(rest.strip()))
    if verb == "edit":
        return _parse_edit(job_id, rest.strip())
    return CronCommand(verb, job_id=job_id)


def _job_id(word: str, verb: str) -> str:
    job_id = word.strip().lower()
    if not job_id:
        raise UserError(f"which task? use: /cron {verb} <id> (the ids are in /cron list)")
    if not _ID.match(job_id):
        raise UserError(f"{word[:20]!r} is not a task id; the ids are in /cron list")
    return job_id


def _count(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise UserError("the number of runs to show is 1 to 100: /cron runs <id> [n]")
    return int(text)


def _parse_add(rest: str) -> CronCommand:
    if not rest:
        raise UserError(f"what and when? use: {ADD_FORM}\nexample: /cron add 20m stretch")
    command = CronCommand("add")
    rest = _take_options(rest, command)
    when, rest = take_when(rest)
    rest = _take_options(rest, command, anywhere=True)
    command.when = when
    command.text = rest.strip()
    if not command.text:
        raise UserError(f"the text is missing; use: {ADD_FORM}")
    return command


def _parse_edit(job_id: str, rest: str) -> CronCommand:
    command = CronCommand("edit", job_id=job_id)
    if not rest:
        raise UserError(
            "what should change? use: /cron edit <id> <when> | --text <text> | --tz <zone> | "
            "--name <name>"
        )
    if not _is_option(rest.split(" ")[0]):
        command.when, rest = take_when(rest)
    rest = _take_options(rest, command, anywhere=True, text_option=True)
    if rest.strip():
        raise UserError(f"cannot read {rest.strip()[:40]!r}; to change the text use --text <text>")
    return command


def _parse_wake(rest: str) -> CronCommand:
    command = CronCommand("wake")
    rest = _take_options(rest, command, anywhere=True)
    command.text = rest.strip()
    if not command.text:
        raise UserError("what should the event say? use: /cron wake [--next-heartbeat] <text>")
    return command


def take_when(text: str) -> tuple[str, str]:
    """Split ``<when> <rest>``: a quoted expression, an unquoted 5-field cron expression,
    a date followed by a time, one word of an exact form (``20m``, ``08:00``, ISO), or else
    the longest start that reads as a time phrase (``tomorrow 8am stand-up``,
    ``明天早上8点开会``, ``10 minutes tea``; but ``8 people meeting`` has none)."""
    text = text.strip()
    if text[:1] in _QUOTES:
        close = text.find(_QUOTES[text[0]], 1)
        if close < 0:
            raise UserError(f"the quote after /cron add is not closed; e.g. {ADD_FORM}")
        return text[1:close].strip(), text[close + 1 :]
    words = text.split(" ")
    if len(words) >= 5 and any("*" in w for w in words[:5]):
        try:
            return validate_cron(" ".join(words[:5])), " ".join(words[5:])
        except ScheduleError:
            pass
    if len(words) >= 2 and _DATE.match(words[0]) and _TIME.match(words[1]):
        return f"{words[0]}T{words[1]}", " ".join(words[2:])
    if is_exact_when(words[0]):
        return words[0], " ".join(words[1:])
    phrase = split_phrase(text)
    if phrase is not None:
        return phrase
    return words[0], " ".join(words[1:])


def _is_option(word: str) -> bool:
    return word.startswith("--") and len(word) > 2 and word[2].isalpha()


def _take_options(
    text: str, command: CronCommand, *, anywhere: bool = False, text_option: bool = False
) -> str:
    """Consume the leading ``--options`` of ``text`` (with ``anywhere``, every one of them:
    ``/cron add 20m tea --tz Asia/Shanghai``); return the other words. An unknown option
    is refused with the known ones, so it never becomes part of a reminder's text."""
    kept: list[str] = []
    rest = text.strip()
    while rest:
        word, _, after = rest.partition(" ")
        if not _is_option(word):
            if not anywhere:
                break
            kept.append(word)
            rest = after.strip()
            continue
        flag = word.lower()
        if flag == "--text":
            if not text_option:
                raise UserError("--text is for /cron edit; in /cron add the text comes last")
            command.text = after.strip()
            if not command.text:
                raise UserError("--text needs the new text: /cron edit <id> --text <text>")
            return " ".join(kept)
        rest = _take_option(flag, word, after.strip(), command)
    return " ".join([*kept, rest] if rest else kept)


def _take_option(flag: str, word: str, after: str, command: CronCommand) -> str:
    """Apply one option; return the text after it (and after its value)."""
    if flag in _FLAGS:
        command.next_heartbeat = True
        return after
    if flag not in _FIELD_OPTIONS:
        raise UserError(f"unknown option {word[:20]!r}; the options are: {' '.join(OPTIONS)}")
    key, value = _FIELD_OPTIONS[flag]
    if value == TAKES_VALUE:
        value, after = _take_value(after, flag)
    command.fields[key] = value
    return after


def _take_value(text: str, flag: str) -> tuple[str, str]:
    if not text:
        raise UserError(
            f"{flag} needs a value, e.g. {flag} {'Asia/Shanghai' if flag == '--tz' else 'daily'}"
        )
    if text[0] in _QUOTES:
        close = text.find(_QUOTES[text[0]], 1)
        if close > 0:
            return text[1:close], text[close + 1 :].strip()
    value, _, rest = text.partition(" ")
    return value, rest.strip()
