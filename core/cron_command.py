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
from .schedule import ScheduleError, validate_cron
from .timeparse import is_exact_when

USAGE = """/cron add <when> <text>            reminder to this chat
/cron add <when> --agent <text>    agent run (--main: event for the main session)
    <when>: 20m | 1h30m | 45s | 2026-01-12T18:00[+08:00] | 08:00 | every 2h | "0 7 * * mon-fri"
    options: --tz <zone> --name <name> --keep
/cron list [all]                   your tasks
/cron show <id>                    one task in full
/cron rm <id>                      delete
/cron pause <id> | resume <id>     disable / enable
/cron run <id>                     run now (the schedule stays)
/cron runs <id> [n]                run history
/cron edit <id> <when> | --text <text> | --tz <zone> | --name <name>
/cron status                       scheduler state
/cron wake [--next-heartbeat] <text>   a main-session event now
/cron help"""

ADD_FORM = "/cron add <when> [--agent|--main] [--tz <zone>] [--name <name>] [--keep] <text>"

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
_FLAGS = {"--agent", "--isolated", "--main", "--keep", "--next-heartbeat", "--reminder"}
_VALUED = {"--tz", "--name", "--text"}
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
    mode: str | None = None  # reminder / isolated / main, when given
    tz: str | None = None
    name: str | None = None
    keep: bool = False
    all: bool = False
    count: int | None = None
    next_heartbeat: bool = False
    flags: set[str] = field(default_factory=set)


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
    rest = _take_options(rest.strip(), command)
    rest = _take_trailing_options(rest, command)
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
    if not rest.startswith("--"):
        command.when, rest = take_when(rest)
    rest = _take_options(rest.strip(), command, text_option=True)
    if rest.strip():
        raise UserError(f"cannot read {rest.strip()[:40]!r}; to change the text use --text <text>")
    return command


def _parse_wake(rest: str) -> CronCommand:
    command = CronCommand("wake")
    rest = _take_options(rest, command)
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


def _take_options(text: str, command: CronCommand, *, text_option: bool = False) -> str:
    """Consume leading ``--options``; return what follows them."""
    while text.startswith("--"):
        word, _, rest = text.partition(" ")
        flag = word.lower()
        if flag in _FLAGS:
            _apply_flag(command, flag)
            text = rest.strip()
            continue
        if flag not in _VALUED:
            raise UserError(
                f"unknown option {word[:20]!r}; options: --agent --main --tz --name --keep"
            )
        if flag == "--text":
            if not text_option:
                raise UserError("--text is for /cron edit; in /cron add the text comes last")
            command.text = rest.strip()
            if not command.text:
                raise UserError("--text needs the new text: /cron edit <id> --text <text>")
            return ""
        value, text = _take_value(rest.strip(), flag)
        setattr(command, flag[2:], value)
    return text


def _take_trailing_options(text: str, command: CronCommand) -> str:
    """Options after the text (``/cron add 20m tea --tz Asia/Shanghai``) are read too."""
    words = text.split(" ")
    while words:
        if words[-1].lower() in _FLAGS:
            _apply_flag(command, words.pop().lower())
        elif len(words) >= 2 and words[-2].lower() in ("--tz", "--name") and words[-1]:
            setattr(command, words[-2].lower()[2:], words[-1])
            del words[-2:]
        else:
            break
    return " ".join(words)


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


def _apply_flag(command: CronCommand, flag: str) -> None:
    command.flags.add(flag)
    if flag in ("--agent", "--isolated"):
        command.mode = "isolated"
    elif flag == "--main":
        command.mode = "main"
    elif flag == "--reminder":
        command.mode = "reminder"
    elif flag == "--keep":
        command.keep = True
    elif flag == "--next-heartbeat":
        command.next_heartbeat = True
