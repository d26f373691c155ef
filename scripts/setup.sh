#!/usr/bin/env bash
# Create (or refresh) the development virtualenv at <repo>/.venv.
#
# Idempotent: when the requirement files have not changed since the last
# successful install (tracked by a hash stamp inside .venv) it returns at once.
# AstrBot 4.29 needs Python >= 3.12, so we hunt for a suitable interpreter
# instead of trusting whatever `python3` happens to be.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
MIN_MINOR=12

log() { printf '[setup] %s\n' "$*" >&2; }

# True when "$1" runs and is CPython 3.12 or newer.
is_suitable() {
    local candidate="$1"
    [[ -n "$candidate" ]] || return 1
    "$candidate" -c "import sys; sys.exit(0 if sys.version_info >= (3, $MIN_MINOR) else 1)" \
        >/dev/null 2>&1
}

find_python() {
    local candidate
    if [[ -n "${PYTHON:-}" ]]; then
        if is_suitable "$PYTHON"; then
            echo "$PYTHON"
            return 0
        fi
        log "PYTHON=$PYTHON is not a Python >= 3.$MIN_MINOR interpreter; searching elsewhere"
    fi
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && is_suitable "$(command -v "$candidate")"; then
            command -v "$candidate"
            return 0
        fi
    done
    # pyenv installs, newest first (sort -V handles 3.9 vs 3.12 correctly).
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    while IFS= read -r candidate; do
        if is_suitable "$candidate"; then
            echo "$candidate"
            return 0
        fi
    done < <(ls -d "$pyenv_root"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -rV)
    return 1
}

# Debian's Chromium and chromedriver drive the browser test of the WebUI page
# (tests/browser); the font gives its Chinese screenshot real glyphs. Installed only when
# missing and only where apt-get may run (root, or sudo without a password); anywhere
# else this says so and the browser test skips. FUTURE_TASKS_SKIP_BROWSER=1 skips this.
BROWSER_PACKAGES=(chromium chromium-driver fonts-wqy-microhei)

ensure_browser() {
    [[ "${FUTURE_TASKS_SKIP_BROWSER:-}" == "1" ]] && return 0
    if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-query >/dev/null 2>&1; then
        if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
            log "no apt-get here: install Chromium and chromedriver at /usr/bin for tests/browser"
            log "(the browser test skips without them)"
        fi
        return 0
    fi
    local pkg missing=()
    for pkg in "${BROWSER_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
            sudo=(sudo -n)
        else
            log "missing ${missing[*]} for the browser test, and apt-get needs root:"
            log "    sudo apt-get update && sudo apt-get install -y ${missing[*]}"
            log "(until then tests/browser skips)"
            return 0
        fi
    fi
    log "installing ${missing[*]} with apt-get (for tests/browser)"
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
        || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${missing[@]}" >/dev/null; then
        log "apt-get could not install ${missing[*]}; tests/browser will skip without Chromium"
    fi
}

requirements_hash() {
    local files=("$ROOT/requirements-dev.txt" "$ROOT/scripts/overrides.txt")
    [[ -f "$ROOT/requirements.txt" ]] && files+=("$ROOT/requirements.txt")
    cat "${files[@]}" | sha256sum | cut -d' ' -f1
}

main() {
    # Only the test command needs a browser; starting AstrBot does not.
    [[ "${1:-}" == "--browser" ]] && ensure_browser

    if [[ ! -f "$ROOT/requirements.txt" ]]; then
        log "requirements.txt is missing at $ROOT (it lists the plugin's runtime dependencies)"
        exit 1
    fi

    local want
    want="$(requirements_hash)"
    if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] \
        && is_suitable "$VENV/bin/python"; then
        return 0
    fi

    local python
    if ! python="$(find_python)"; then
        cat >&2 <<EOF
[setup] No Python >= 3.$MIN_MINOR interpreter found (AstrBot 4.29 requires it).
[setup] Install Python 3.12+, for example:
[setup]     apt-get install python3.12 python3.12-venv
[setup]   or
[setup]     pyenv install 3.12
[setup] then re-run, or point PYTHON=/path/to/python3.12 at it.
EOF
        exit 1
    fi

    if [[ -x "$VENV/bin/python" ]] && ! is_suitable "$VENV/bin/python"; then
        log "existing .venv uses an old Python; recreating it"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating .venv with $python ($("$python" --version 2>&1))"
        "$python" -m venv "$VENV"
    fi

    if [[ ! -x "$VENV/bin/uv" ]]; then
        log "installing uv into .venv"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
    fi

    log "installing requirements-dev.txt"
    (cd "$ROOT" && "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
        -r requirements-dev.txt --override scripts/overrides.txt)

    echo "$want" >"$STAMP"
    log "done: $VENV"
}

main "$@"
