# S3: moto's server mode (PyPI `moto[server]`, in the project venv; MinIO is AGPL and not
# used). Buckets live in memory; the process runs on 127.0.0.1:${S3_PORT:-9000}.
# Any access key and secret are accepted; region us-east-1.
#   scripts/services start s3      S3_PORT=9100 scripts/services start s3
# Sourced by scripts/services, which passes the scratch directory ($LAMINAR_SERVICES_DIR/s3).

_s3_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
_s3_venv="${LAMINAR_VENV:-$_s3_root/.venv}"

# The port of the running server (recorded at start), else the requested one.
_s3_port() {
  if [ -f "$1/port" ]; then cat "$1/port"; else echo "${S3_PORT:-9000}"; fi
}

_s3_pid_alive() {
  [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

# moto answers S3's ListBuckets on / once it serves requests.
_s3_answers() {
  curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null
}

_s3_describe() {
  local port="$1"
  echo "s3 (moto) on http://127.0.0.1:$port"
  echo "  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1"
  echo "  pyarrow: S3FileSystem(endpoint_override='127.0.0.1:$port', scheme='http', access_key='testing', secret_key='testing', region='us-east-1')"
}

s3_start() {
  local dir="$1" port
  if _s3_pid_alive "$dir" && _s3_answers "$(_s3_port "$dir")"; then
    _s3_describe "$(_s3_port "$dir")"
    return 0
  fi
  if [ ! -x "$_s3_venv/bin/moto_server" ]; then
    echo "s3: moto_server is not in $_s3_venv; run scripts/bootstrap (scripts/requirements.txt has moto[server])" >&2
    return 1
  fi
  port="${S3_PORT:-9000}"
  if _s3_answers "$port"; then
    echo "s3: something else already answers on 127.0.0.1:$port; choose another S3_PORT" >&2
    return 1
  fi
  rm -f "$dir/pid" "$dir/port"
  # Detached from the caller's stdio, so a caller reading our output is not held open.
  setsid "$_s3_venv/bin/moto_server" -H 127.0.0.1 -p "$port" </dev/null >"$dir/server.log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  local waited=0
  until _s3_answers "$port"; do
    if ! _s3_pid_alive "$dir"; then
      echo "s3: moto_server exited during start-up; log:" >&2
      tail -n 20 "$dir/server.log" >&2
      rm -f "$dir/pid" "$dir/port"
      return 1
    fi
    if ((waited >= 600)); then  # tenths of a second: 60 s
      echo "s3: moto_server did not answer on port $port within 60 s; log: $dir/server.log" >&2
      s3_stop "$dir" >/dev/null
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  _s3_describe "$port"
}

s3_stop() {
  local dir="$1" pid i
  if _s3_pid_alive "$dir"; then
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
  echo "s3: stopped"
}

s3_status() {
  local dir="$1" port
  port="$(_s3_port "$dir")"
  if _s3_pid_alive "$dir" && _s3_answers "$port"; then
    _s3_describe "$port"
    return 0
  fi
  echo "s3: not running"
  return 1
}
