#!/usr/bin/env bash
# Lint, format check, unit tests, integration tests against a real AstrBot, then the
# browser test of the WebUI page (headless Chromium against a real AstrBot dashboard).
#
# Integration and browser tests each run in their own pytest process: AstrBot keeps
# process-global state and can boot in-process only once. Every step runs even if an
# earlier one failed, so one run reports everything; the exit status is non-zero if any
# step failed. Extra arguments are passed to every pytest run (e.g. -x, -k).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh --browser || exit 1
BIN="$ROOT/.venv/bin"

failed=()
step() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    if ! "$@"; then
        failed+=("$name")
    fi
}

# Exclusions for .venv/.astrbot-home/.test-artifacts live in pyproject.toml.
step "ruff check" "$BIN/ruff" check .
step "ruff format --check" "$BIN/ruff" format --check .
step "unit tests" "$BIN/python" -m pytest tests/unit "$@"
step "integration tests" "$BIN/python" -m pytest tests/integration "$@"
step "browser tests" "$BIN/python" -m pytest tests/browser "$@"

echo
if ((${#failed[@]})); then
    printf 'FAILED: %s\n' "${failed[@]}"
    exit 1
fi
echo "All checks passed."
