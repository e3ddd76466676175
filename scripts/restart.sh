#!/usr/bin/env bash
# Restart a streambot platform running in the background: stop it gracefully (SIGTERM: orders under
# way are waited for, the store is closed), start `streambot run` again in the background, wait
# until /api/v1/health answers, and print the dashboard's address.
#
# Settings come from the environment as for `streambot run` (STREAMBOT_DATA_DIR, STREAMBOT_PORT…).
# The running platform is found by STREAMBOT_DATA_DIR/streambot.pid, which `streambot run` writes.
# Its output goes to STREAMBOT_DATA_DIR/logs/stdout.log; the log is STREAMBOT_DATA_DIR/logs/backend.log.
#
#   STREAMBOT_BIN            the streambot command (default: .venv/bin/streambot beside this script, else streambot)
#   RESTART_STOP_TIMEOUT     seconds to wait for a graceful stop before SIGKILL (default 60)
#   RESTART_START_TIMEOUT    seconds to wait for /health after starting (default 120)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data_dir="${STREAMBOT_DATA_DIR:-./data}"
pid_file="$data_dir/streambot.pid"
stop_timeout="${RESTART_STOP_TIMEOUT:-60}"
start_timeout="${RESTART_START_TIMEOUT:-120}"
if [[ -n "${STREAMBOT_BIN:-}" ]]; then
    bin="$STREAMBOT_BIN"
elif [[ -x "$here/../.venv/bin/streambot" ]]; then
    bin="$here/../.venv/bin/streambot"
else
    bin="streambot"
fi

is_streambot() {  # a live process whose command line is streambot's (not a recycled pid)
    [[ -r "/proc/$1/cmdline" ]] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -q streambot
}

# --- stop -----------------------------------------------------------------------------------------
if [[ -f "$pid_file" ]]; then
    old_pid="$(head -n 1 "$pid_file")"
    if [[ "$old_pid" =~ ^[0-9]+$ ]] && is_streambot "$old_pid"; then
        echo "🛑 Stopping streambot (pid $old_pid)…"
        kill -TERM "$old_pid"
        for ((i = 0; i < stop_timeout * 10; i++)); do
            is_streambot "$old_pid" || break
            sleep 0.1
        done
        if is_streambot "$old_pid"; then
            echo "❌ streambot (pid $old_pid) did not stop within ${stop_timeout}s; killing it" >&2
            kill -KILL "$old_pid" || true
            sleep 1
        fi
        echo "✅ Stopped"
    else
        echo "No streambot running (stale $pid_file)"
    fi
    rm -f "$pid_file"
else
    echo "No streambot running from $data_dir (no $pid_file); starting one"
fi

# --- start ----------------------------------------------------------------------------------------
mkdir -p "$data_dir/logs"
out="$data_dir/logs/stdout.log"
# `streambot run` prints the API token on stdout: the file is the owner's alone.
(umask 077 && touch "$out")
nohup "$bin" run >>"$out" 2>&1 </dev/null &
new_pid=$!
echo "🚀 Started streambot (pid $new_pid); output in $out"

url=""
for ((i = 0; i < start_timeout * 10; i++)); do
    if ! kill -0 "$new_pid" 2>/dev/null; then
        echo "❌ streambot exited during start-up; the end of its output:" >&2
        tail -n 20 "$out" >&2
        exit 1
    fi
    if [[ -z "$url" && -f "$pid_file" && "$(head -n 1 "$pid_file")" == "$new_pid" ]]; then
        url="$(sed -n 2p "$pid_file")"
    fi
    if [[ -n "$url" ]] && curl -fsS -o /dev/null --max-time 2 "$url/api/v1/health" 2>/dev/null; then
        echo "✅ streambot is healthy at $url/api/v1/health"
        echo "Dashboard: $url/"
        token_file="$data_dir/api_token"
        if [[ -z "${STREAMBOT_API_TOKEN:-}" && -r "$token_file" ]]; then
            echo "API token: in $token_file (open the dashboard with $url/?token=<token>)"
        fi
        exit 0
    fi
    sleep 0.1
done
echo "❌ streambot (pid $new_pid) did not answer $url/api/v1/health within ${start_timeout}s" >&2
tail -n 20 "$out" >&2
exit 1
