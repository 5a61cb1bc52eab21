# Google Cloud Storage: fake-gcs-server (Go module github.com/fsouza/fake-gcs-server, built
# on first use with `go install` into ${LAMINAR_CACHE:-$HOME/.cache/laminar}/fake-gcs-server-<version>;
# about 4 minutes on 2 cores the first time, cached afterwards), serving the JSON API over
# plain HTTP on 127.0.0.1:${GCS_PORT:-4443} with in-memory buckets. No authentication:
# clients connect anonymously. It honours ifGenerationMatch=0 (put-if-absent).
#   scripts/services start gcs      GCS_PORT=4543 scripts/services start gcs
# Sourced by scripts/services, which passes the scratch directory ($LAMINAR_SERVICES_DIR/gcs).

_gcs_version="v1.56.1"
_gcs_home="${LAMINAR_CACHE:-$HOME/.cache/laminar}/fake-gcs-server-${_gcs_version#v}"
_gcs_bin="$_gcs_home/bin/fake-gcs-server"

_gcs_port() {
  if [ -f "$1/port" ]; then cat "$1/port"; else echo "${GCS_PORT:-4443}"; fi
}

_gcs_pid_alive() {
  [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

_gcs_answers() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/storage/v1/b" 2>/dev/null
}

_gcs_describe() {
  local port="$1"
  echo "gcs (fake-gcs-server) on http://127.0.0.1:$port"
  echo "  export STORAGE_EMULATOR_HOST=http://127.0.0.1:$port"
  echo "  pyarrow: GcsFileSystem(anonymous=True, scheme='http', endpoint_override='127.0.0.1:$port')"
}

_gcs_install() {
  if [ -x "$_gcs_bin" ]; then return 0; fi
  if ! command -v go >/dev/null; then
    echo "gcs: the go command is not installed; it builds fake-gcs-server from the Go module proxy" >&2
    return 1
  fi
  echo "gcs: building fake-gcs-server $_gcs_version with go install into $_gcs_home (first use only)"
  mkdir -p "$_gcs_home/bin"
  # One package at a time and at low priority: the machine has 2 cores and may be compiling.
  GOBIN="$_gcs_home/bin" GOFLAGS="-buildvcs=false -p=1" nice -n 10 \
    go install "github.com/fsouza/fake-gcs-server@$_gcs_version"
}

gcs_start() {
  local dir="$1" port
  if _gcs_pid_alive "$dir" && _gcs_answers "$(_gcs_port "$dir")"; then
    _gcs_describe "$(_gcs_port "$dir")"
    return 0
  fi
  _gcs_install
  port="${GCS_PORT:-4443}"
  if _gcs_answers "$port"; then
    echo "gcs: something else already answers on 127.0.0.1:$port; choose another GCS_PORT" >&2
    return 1
  fi
  rm -f "$dir/pid" "$dir/port"
  setsid "$_gcs_bin" -scheme http -host 127.0.0.1 -port "$port" -backend memory \
    -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port" -log-level warn \
    </dev/null >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  local waited=0
  until _gcs_answers "$port"; do
    if ! _gcs_pid_alive "$dir"; then
      echo "gcs: fake-gcs-server exited during start-up; log:" >&2
      tail -n 20 "$dir/server.log" >&2
      rm -f "$dir/pid" "$dir/port"
      return 1
    fi
    if ((waited >= 300)); then  # tenths of a second: 30 s
      echo "gcs: fake-gcs-server did not answer on port $port within 30 s; log: $dir/server.log" >&2
      gcs_stop "$dir" >/dev/null
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  _gcs_describe "$port"
}

gcs_stop() {
  local dir="$1" pid i
  if _gcs_pid_alive "$dir"; then
    pid="$(cat "$dir/pid")"
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$dir/pid" "$dir/port"
  echo "gcs: stopped"
}

gcs_status() {
  local dir="$1" port
  port="$(_gcs_port "$dir")"
  if _gcs_pid_alive "$dir" && _gcs_answers "$port"; then
    _gcs_describe "$port"
    return 0
  fi
  echo "gcs: not running"
  return 1
}
