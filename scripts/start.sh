#!/usr/bin/env bash
# Run a local AstrBot with this plugin installed, for manual testing in the WebUI.
#
# The AstrBot home defaults to <repo>/.astrbot-home (git-ignored); override with
# FUTURE_TASKS_HOME. The plugin is symlinked, not copied, so edits take effect on
# a plugin reload or restart. FUTURE_TASKS_PLUGIN_DIR links another directory.
# No LLM provider or platform is needed to start; add them in the WebUI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PLUGIN_NAME="astrbot_plugin_future_tasks"

bash "$ROOT/scripts/setup.sh"

home="${FUTURE_TASKS_HOME:-$ROOT/.astrbot-home}"
mkdir -p "$home"
home="$(cd "$home" && pwd)"
plugin_src="$(cd "${FUTURE_TASKS_PLUGIN_DIR:-$ROOT}" && pwd)"

# Only used when AstrBot stores a password for the first time (new home);
# it must have 8+ characters with upper case, lower case and a digit.
export ASTRBOT_DASHBOARD_INITIAL_PASSWORD="${ASTRBOT_DASHBOARD_INITIAL_PASSWORD:-FutureTasks2026}"
# Listen on loopback only unless told otherwise.
export DASHBOARD_HOST="${DASHBOARD_HOST:-127.0.0.1}"

if [[ ! -f "$home/.astrbot" ]]; then
    echo "[start] initialising AstrBot home at $home"
    (cd "$home" && "$ROOT/.venv/bin/astrbot" init -y >/dev/null)
fi

link="$home/data/plugins/$PLUGIN_NAME"
mkdir -p "$home/data/plugins"
if [[ -L "$link" ]]; then
    [[ "$(readlink "$link")" == "$plugin_src" ]] || ln -sfn "$plugin_src" "$link"
elif [[ -e "$link" ]]; then
    echo "[start] $link exists and is not a symlink; move it away first" >&2
    exit 1
else
    ln -s "$plugin_src" "$link"
fi

port="${DASHBOARD_PORT:-6185}"
echo "[start] AstrBot home: $home"
echo "[start] plugin:       $link -> $plugin_src"
echo "[start] dashboard:    http://$DASHBOARD_HOST:$port"
echo "[start] login:        astrbot / $ASTRBOT_DASHBOARD_INITIAL_PASSWORD"
echo "[start]               (set when the home is new; AstrBot then asks you to change it)"

cd "$home"
if [[ -n "${DASHBOARD_PORT:-}" ]]; then
    exec "$ROOT/.venv/bin/astrbot" run --port "$DASHBOARD_PORT"
fi
exec "$ROOT/.venv/bin/astrbot" run
