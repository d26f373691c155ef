"""Score time-phrase readers on the corpus in tests/unit/timephrases.tsv and print a table.

    .venv/bin/python -m bench.timephrases [--show-wrong]

Readers: this plugin's own grammar (core/phrases.py through core/timeparse.parse_when),
dateparser, ctparse and jionlp. The other three are evaluation-only dependencies
(requirements-eval.txt, not installed by setup or CI); a missing one is named and skipped.

For each reader and phrase the outcome is one of: *correct* (the expected instant,
interval or cron expression; or nothing accepted where the corpus says ask / refuse),
*wrong* (a time accepted that is not the expected one: the outcome that must never
happen), or *refused* (nothing accepted where the corpus expected a time). Recurring
results of the other libraries are mapped to an interval or a cron expression where their
output allows (jionlp's time periods); otherwise a single date for a recurring phrase
counts as wrong, as it would schedule the wrong thing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.errors import UserError  # noqa: E402
from core.models import ScheduleKind  # noqa: E402
from core.schedule import ms_to_local  # noqa: E402
from core.timeparse import parse_when  # noqa: E402
from tests.unit.timephrase_corpus import Case, load_cases  # noqa: E402

Outcome = tuple[str, object] | None  # ("at", ms) / ("every", ms) / ("cron", expr) / None
Reader = Callable[[Case], Outcome]


# ----- the readers --------------------------------------------------------------------------


def own_reader(case: Case) -> Outcome:
    try:
        schedule = parse_when(case.phrase, case.tz, case.now_ms)
    except UserError:
        return None
    if schedule.kind == ScheduleKind.AT:
        return ("at", schedule.at_ms)
    if schedule.kind == ScheduleKind.EVERY:
        return ("every", schedule.every_ms)
    return ("cron", schedule.expr)


def _local_now(case: Case) -> datetime:
    return ms_to_local(case.now_ms, case.tz).replace(tzinfo=None)


def _wall_to_ms(wall: datetime, tz: str) -> int:
    if wall.tzinfo is None:
        wall = wall.replace(tzinfo=ZoneInfo(tz))
    return round(wall.timestamp() * 1000)


def dateparser_reader(case: Case) -> Outcome:
    import dateparser

    settings = {"RELATIVE_BASE": _local_now(case), "PREFER_DATES_FROM": "future"}
    result = dateparser.parse(case.phrase, languages=["en", "zh"], settings=settings)
    return None if result is None else ("at", _wall_to_ms(result, case.tz))


def ctparse_reader(case: Case) -> Outcome:
    import ctparse
    from ctparse.types import Duration, Time

    found = ctparse.ctparse(case.phrase, ts=_local_now(case), timeout=0.5)
    value = found.resolution if found else None
    if isinstance(value, Duration):
        unit = {"minutes": 60_000, "hours": 3_600_000, "days": 86_400_000}
        unit |= {"weeks": 604_800_000, "seconds": 1000}
        ms = unit.get(value.unit.value)
        return ("at", case.now_ms + value.value * ms) if ms else None
    if not isinstance(value, Time) or None in (value.year, value.month, value.day, value.hour):
        return None
    wall = datetime(value.year, value.month, value.day, value.hour, value.minute or 0)
    return ("at", _wall_to_ms(wall, case.tz))


_JIO_UNITS = {"day": 86_400_000, "hour": 3_600_000, "minute": 60_000, "second": 1000}


def jionlp_reader(case: Case) -> Outcome:
    import jionlp

    base = time.mktime(_local_now(case).timetuple())  # jionlp reads it in the machine's zone
    try:
        found = jionlp.parse_time(case.phrase, time_base=base)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    kind = found.get("type")
    if kind == "time_point":
        start = datetime.fromisoformat(found["time"][0])
        return ("at", _wall_to_ms(start, case.tz))
    if kind == "time_delta":
        delta = _jio_delta_ms(found["time"])
        return ("at", case.now_ms + delta) if delta else None
    if kind == "time_period":
        return _jio_period(found["time"])
    return None


def _jio_delta_ms(delta: dict) -> int | None:
    if not delta or any(k not in _JIO_UNITS for k in delta):
        return None
    return int(sum(float(v) * _JIO_UNITS[k] for k, v in delta.items()))


def _jio_period(period: dict) -> Outcome:
    """``every N`` becomes an interval; a daily or weekly point a cron expression."""
    every = _jio_delta_ms(period.get("delta") or {})
    point = (period.get("point") or {}).get("time")
    if every is None:
        return None
    if not point:
        return ("every", every)
    start = datetime.fromisoformat(point[0])
    if every == 86_400_000:
        return ("cron", f"{start.minute} {start.hour} * * *")
    if every == 7 * 86_400_000:
        day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[start.weekday()]
        return ("cron", f"{start.minute} {start.hour} * * {day}")
    return None


READERS: dict[str, tuple[str | None, Reader]] = {
    # name: (distribution to import and weigh; None for this plugin's own code)
    "own grammar (core/phrases.py)": (None, own_reader),
    "dateparser": ("dateparser", dateparser_reader),
    "ctparse": ("ctparse", ctparse_reader),
    "jionlp": ("jionlp", jionlp_reader),
}


# ----- scoring ------------------------------------------------------------------------------


@dataclass
class Score:
    correct: dict[str, int] = field(default_factory=lambda: {"en": 0, "zh": 0})
    total: dict[str, int] = field(default_factory=lambda: {"en": 0, "zh": 0})
    wrong: list[tuple[Case, Outcome]] = field(default_factory=list)
    refused: int = 0
    crashed: int = 0
    seconds: float = 0.0


def expected_outcome(case: Case) -> Outcome:
    wanted = case.expected
    if wanted.kind == "at":
        return ("at", wanted.at_ms)
    if wanted.kind == "every":
        return ("every", wanted.every_ms)
    if wanted.kind == "cron":
        return ("cron", wanted.expr)
    return None


def score(reader: Reader, cases: list[Case]) -> Score:
    result = Score()
    for case in cases:
        language = "zh" if case.chinese else "en"
        result.total[language] += 1
        started = time.perf_counter()
        try:
            got = reader(case)
        except Exception:  # a library crashing on a phrase counts as not reading it
            got, result.crashed = None, result.crashed + 1
        result.seconds += time.perf_counter() - started
        want = expected_outcome(case)
        if got == want:
            result.correct[language] += 1
        elif got is None:
            result.refused += 1
        else:
            result.wrong.append((case, got))
    return result


# ----- weight -------------------------------------------------------------------------------


def _requirements(dist: str) -> set[str]:
    names: set[str] = set()
    todo = [dist]
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in names:
            continue
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        names.add(key)
        for line in requires:
            if "extra ==" in line:
                continue
            todo.append(re.split(r"[ ;<>=!~\[(]", line, maxsplit=1)[0])
    return names


def install_mb(dist: str) -> float:
    """The installed size of ``dist`` and everything it requires, in MB."""
    total = 0
    for name in _requirements(dist):
        files = metadata.distribution(name).files or []
        total += sum(f.locate().stat().st_size for f in files if Path(str(f.locate())).is_file())
    return total / 1e6


_PLUGIN_BASE = "import core.models, core.schedule, core.errors"
"""What the plugin has loaded anyway: the grammar's own import cost is measured on top."""


def import_seconds(module: str, base: str = "pass") -> float:
    """Median wall time of ``import module`` in a fresh interpreter, minus ``base``."""

    def run(code: str) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], capture_output=True, check=False, cwd=ROOT)
            times.append(time.perf_counter() - started)
        return sorted(times)[1]

    return max(0.0, run(f"{base}; import {module}") - run(base))


# ----- the table ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-wrong", action="store_true", help="list each wrong acceptance")
    args = parser.parse_args()
    cases = load_cases()
    print(f"corpus: {len(cases)} phrases ({sum(c.chinese for c in cases)} Chinese)\n")
    header = (
        "| reader | correct | English | Chinese | wrong time accepted | refused a time "
        "| install (MB, with deps) | import (s) | ms / phrase |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for name, (dist, reader) in READERS.items():
        if dist is not None:
            try:
                importlib.import_module(dist)
            except ImportError:
                print(f"| {name} | not installed (pip install -r requirements-eval.txt) |")
                continue
        result = score(reader, cases)
        print(_row(name, dist, result, len(cases)))
        if args.show_wrong:
            for case, got in result.wrong:
                print(f"    wrong: {case.context} {case.phrase!r} -> {got}")


def _row(name: str, dist: str | None, result: Score, count: int) -> str:
    correct = sum(result.correct.values())
    per = {k: 100 * result.correct[k] / max(1, result.total[k]) for k in ("en", "zh")}
    weight = f"{install_mb(dist):.1f}" if dist else "0 (in the plugin)"
    seconds = (
        f"{import_seconds(dist):.2f}"
        if dist
        else f"{import_seconds('core.phrases', _PLUGIN_BASE):.2f}"
    )
    return (
        f"| {name} | {100 * correct / count:.1f} % ({correct}) | {per['en']:.1f} % "
        f"| {per['zh']:.1f} % | {len(result.wrong)} | {result.refused} | {weight} "
        f"| {seconds} | {1000 * result.seconds / count:.2f} |"
    )


if __name__ == "__main__":
    main()
