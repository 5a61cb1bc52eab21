# Azure Blob Storage: Azurite's blob service (npm `azurite`), installed on first use into
# ${LAMINAR_CACHE:-$HOME/.cache/laminar}/azurite-<version> and run on
# 127.0.0.1:${AZURITE_PORT:-10000} with in-memory persistence (workspace files under the
# scratch directory's workspace/). Account and key are Azurite's well-known development ones.
#   scripts/services start azurite      AZURITE_PORT=10100 scripts/services start azurite
# Sourced by scripts/services, which passes the scratch directory ($LAMINAR_SERVICES_DIR/azurite).

# 3.36+ require Node 21+; Debian 12 machines here have Node 20.
_azurite_version="3.35.0"
_azurite_home="${LAMINAR_CACHE:-$HOME/.cache/laminar}/azurite-$_azurite_version"
_azurite_account="devstoreaccount1"
_azurite_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_azurite_port() {
  if [ -f "$1/port" ]; then cat "$1/port"; else echo "${AZURITE_PORT:-10000}"; fi
}

_azurite_pid_alive() {
  [ -f "$1/pid" ] && kill -0 "$(cat "$1/pid")" 2>/dev/null
}

# Any HTTP answer (an unauthenticated request gets a 4xx) means the blob service is up.
_azurite_answers() {
  local code
  code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1/$_azurite_account?comp=list" 2>/dev/null)" || return 1
  [ -n "$code" ] && [ "$code" != "000" ]
}

_azurite_describe() {
  local port="$1"
  echo "azurite (blob) on http://127.0.0.1:$port/$_azurite_account"
  echo "  export AZURE_STORAGE_ACCOUNT_NAME=$_azurite_account AZURE_STORAGE_ACCOUNT_KEY=$_azurite_key"
  echo "  connection string: DefaultEndpointsProtocol=http;AccountName=$_azurite_account;AccountKey=$_azurite_key;BlobEndpoint=http://127.0.0.1:$port/$_azurite_account;"
  echo "  pyarrow: AzureFileSystem(account_name='$_azurite_account', account_key=<key above>, blob_storage_authority='127.0.0.1:$port', dfs_storage_authority='127.0.0.1:$port', blob_storage_scheme='http', dfs_storage_scheme='http')"
}

_azurite_install() {
  if [ -x "$_azurite_home/node_modules/.bin/azurite-blob" ]; then return 0; fi
  if ! command -v npm >/dev/null; then
    echo "azurite: npm is not installed (Debian: apt-get install npm, or Node 20 from the machine image)" >&2
    return 1
  fi
  echo "azurite: installing azurite@$_azurite_version from npm into $_azurite_home"
  mkdir -p "$_azurite_home"
  npm install --prefix "$_azurite_home" --no-audit --no-fund --loglevel=error "azurite@$_azurite_version" >/dev/null
}

azurite_start() {
  local dir="$1" port
  if _azurite_pid_alive "$dir" && _azurite_answers "$(_azurite_port "$dir")"; then
    _azurite_describe "$(_azurite_port "$dir")"
    return 0
  fi
  _azurite_install
  port="${AZURITE_PORT:-10000}"
  if _azurite_answers "$port"; then
    echo "azurite: something else already answers on 127.0.0.1:$port; choose another AZURITE_PORT" >&2
    return 1
  fi
  rm -f "$dir/pid" "$dir/port"
  mkdir -p "$dir/workspace"
  # --skipApiVersionCheck: Arrow's Azure SDK may speak a newer API version than Azurite knows.
  # --loose: ignore headers Azurite does not implement. No telemetry: loopback only.
  # In-memory blobs; Azurite's own small files land in the working directory.
  (cd "$dir/workspace" && exec setsid "$_azurite_home/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 \
    --blobPort "$port" --inMemoryPersistence --extentMemoryLimit 2048 --skipApiVersionCheck --loose --disableTelemetry \
    </dev/null >"$dir/server.log" 2>&1) &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  local waited=0
  until _azurite_answers "$port"; do
    if ! _azurite_pid_alive "$dir"; then
      echo "azurite: exited during start-up; log:" >&2
      tail -n 20 "$dir/server.log" >&2
      rm -f "$dir/pid" "$dir/port"
      return 1
    fi
    if ((waited >= 600)); then  # tenths of a second: 60 s
      echo "azurite: did not answer on port $port within 60 s; log: $dir/server.log" >&2
      azurite_stop "$dir" >/dev/null
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  _azurite_describe "$port"
}

azurite_stop() {
  local dir="$1" pid i
  if _azurite_pid_alive "$dir"; then
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
  echo "azurite: stopped"
}

azurite_status() {
  local dir="$1" port
  port="$(_azurite_port "$dir")"
  if _azurite_pid_alive "$dir" && _azurite_answers "$port"; then
    _azurite_describe "$port"
    return 0
  fi
  echo "azurite: not running"
  return 1
}
