#!/usr/bin/env bash
# Run a local AstrBot with this plugin installed, for manual testing in the WebUI.
#
# The AstrBot home defaults to <repo>/.astrbot-home (git-ignored); override with
# FUTURE_TASKS_HOME. The plugin is copied in at every start (AstrBot shows no plugin
# pages for a symlinked plugin). FUTURE_TASKS_PLUGIN_DIR copies another directory.
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

# A copy, refreshed at every start: AstrBot 4.29 serves no plugin pages (the WebUI page)
# for a plugin folder that is a symlink out of data/plugins/.
target="$home/data/plugins/$PLUGIN_NAME"
mkdir -p "$home/data/plugins"
if [[ -L "$target" ]]; then
    rm "$target"
fi
rm -rf "$target.new"
mkdir -p "$target.new"
tar -C "$plugin_src" --exclude=./.git --exclude=./.venv --exclude=./.astrbot-home \
    --exclude=./.test-artifacts --exclude=__pycache__ --exclude=./.pytest_cache \
    --exclude=./.ruff_cache -cf - . | tar -C "$target.new" -xf -
rm -rf "$target"
mv "$target.new" "$target"

port="${DASHBOARD_PORT:-6185}"
echo "[start] AstrBot home: $home"
echo "[start] plugin:       $target (copied from $plugin_src; run this again after edits)"
echo "[start] dashboard:    http://$DASHBOARD_HOST:$port"
echo "[start] login:        astrbot / $ASTRBOT_DASHBOARD_INITIAL_PASSWORD"
echo "[start]               (set when the home is new; AstrBot then asks you to change it)"

cd "$home"
if [[ -n "${DASHBOARD_PORT:-}" ]]; then
    exec "$ROOT/.venv/bin/astrbot" run --port "$DASHBOARD_PORT"
fi
exec "$ROOT/.venv/bin/astrbot" run
