# A Confluent-API-compatible schema registry for the tests: Apicurio Registry 2.4.2 with
# in-memory (H2) storage. Sourced by scripts/services; defines schema_registry_start,
# schema_registry_stop and schema_registry_status.
#
#   SCHEMA_REGISTRY_PORT=8081 scripts/services start schema-registry
#   -> schema.registry.url=http://127.0.0.1:8081/apis/ccompat/v7
#
# The Confluent API lives under /apis/ccompat/v7 (also /apis/ccompat/v6), not at the
# root: clients take that whole URL as their registry URL (confluent-kafka's
# SchemaRegistryClient does; so must ours).
#
# Environment:
#   SCHEMA_REGISTRY_PORT           HTTP port on 127.0.0.1 (default 8081); one registry per port
#   SCHEMA_REGISTRY_COMPATIBILITY  global compatibility level set after start (default
#                                  BACKWARD, as Confluent's registry; NONE to turn it off)
#   SCHEMA_REGISTRY_START_TIMEOUT  seconds to wait for it to answer (default 120)
#   SCHEMA_REGISTRY_HEAP           JVM heap (default 384m)
#   LAMINAR_CACHE_DIR              where the built registry is kept (default ~/.cache/laminar)
#
# Maven Central has the registry's classes but no runnable build: scripts/schema-registry/
# holds a pom that assembles one with the Quarkus build (see the comment in that pom). It
# runs once per change of those files, into $LAMINAR_CACHE_DIR/schema-registry-<hash>.

_sr_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_sr_port() { echo "${SCHEMA_REGISTRY_PORT:-8081}"; }
_sr_instance() { echo "$1/$(_sr_port)"; }
_sr_url() { echo "http://127.0.0.1:$(_sr_port)/apis/ccompat/v7"; }

# Builds the registry (once per version of scripts/schema-registry) and prints the path of
# its runner jar.
_sr_runner() {
  local src="$_sr_root/scripts/schema-registry"
  local cache="${LAMINAR_CACHE_DIR:-$HOME/.cache/laminar}"
  local hash
  hash="$(cd "$src" && find . -type f ! -path './target/*' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
  local dest="$cache/schema-registry-$hash"
  if [ ! -f "$dest/.complete" ]; then
    command -v mvn >/dev/null || { echo "schema-registry: mvn not found (scripts/bootstrap installs maven)" >&2; return 1; }
    echo "schema-registry: building Apicurio Registry from Maven Central into $dest (first run: a few minutes)" >&2
    mkdir -p "$cache"
    local tmp
    tmp="$(mktemp -d "$cache/schema-registry-tmp.XXXXXX")"
    cp -r "$src/pom.xml" "$src/src" "$tmp/"
    if ! (cd "$tmp" && mvn -B -s "$src/settings.xml" -Dquarkus.analytics.disabled=true package) \
         >"$tmp/build.log" 2>&1; then
      echo "schema-registry: the Maven build failed (log: $tmp/build.log):" >&2
      grep -E '^\[(ERROR|WARNING)\]' "$tmp/build.log" | head -n 20 >&2
      return 1
    fi
    mkdir -p "$tmp/app"
    mv "$tmp/target/lib" "$tmp/app/lib"
    mv "$tmp"/target/*-runner.jar "$tmp/app/registry-runner.jar"
    rm -rf "$tmp/target" "$tmp/src" "$tmp/pom.xml"
    touch "$tmp/.complete"
    # Another start may have finished first; either copy is complete.
    if ! mv -T "$tmp" "$dest" 2>/dev/null; then rm -rf "$tmp"; fi
  fi
  echo "$dest/app/registry-runner.jar"
}

# Prints the pid of this instance's registry if it runs, else fails.
_sr_pid() {
  local inst="$1" pid cmdline
  [ -f "$inst/registry.pid" ] || return 1
  pid="$(cat "$inst/registry.pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"-Dlaminar.instance=$inst "* ]] || return 1
  echo "$pid"
}

# Succeeds when the Confluent API on this port answers GET /subjects with a JSON list.
_sr_answers() {
  python3 - "$1" <<'PY'
import json, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/apis/ccompat/v7/subjects"
try:
    with urllib.request.urlopen(url, timeout=3) as r:
        sys.exit(0 if r.status == 200 and isinstance(json.load(r), list) else 1)
except Exception:
    sys.exit(1)
PY
}

_sr_port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# PUT /config {"compatibility": LEVEL}
_sr_set_compatibility() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/apis/ccompat/v7/config"
body = json.dumps({"compatibility": sys.argv[2]}).encode()
req = urllib.request.Request(url, data=body, method="PUT",
                             headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
with urllib.request.urlopen(req, timeout=10) as r:
    got = json.load(r)
if got.get("compatibility") != sys.argv[2]:
    sys.exit(f"unexpected answer {got}")
PY
}

schema_registry_start() {
  local dir="$1" port inst pid jar started
  port="$(_sr_port)"
  inst="$(_sr_instance "$dir")"
  if pid="$(_sr_pid "$inst")"; then
    echo "schema-registry: already running (pid $pid)"
    echo "schema.registry.url=$(_sr_url)"
    return 0
  fi
  command -v java >/dev/null || { echo "schema-registry: java not found (scripts/bootstrap installs a JDK)" >&2; return 1; }
  if _sr_port_open "$port"; then
    echo "schema-registry: 127.0.0.1:$port is already in use by another process" >&2
    return 1
  fi
  jar="$(_sr_runner)" || return 1
  started=$SECONDS
  rm -rf "$inst"
  mkdir -p "$inst/logs"
  local java_opts=(-Xmx"${SCHEMA_REGISTRY_HEAP:-384m}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1
    -Djava.awt.headless=true -Dlaminar.instance="$inst"
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port"
    -Dquarkus.datasource.jdbc.min-size=1 -Dquarkus.datasource.jdbc.initial-size=1
    -Dquarkus.datasource.jdbc.max-size=20
    -Dquarkus.log.category.\"io.sentry\".level=ERROR)
  # The shell writes its own pid and then becomes java, so the pidfile names the registry.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$inst/registry.pid" \
    java "${java_opts[@]}" -jar "$jar" >"$inst/logs/registry.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 50); do [ -s "$inst/registry.pid" ] && break; sleep 0.1; done
  pid="$(cat "$inst/registry.pid" 2>/dev/null)"
  [ -n "$pid" ] || { echo "schema-registry: the JVM did not start" >&2; return 1; }
  local timeout="${SCHEMA_REGISTRY_START_TIMEOUT:-120}"
  local deadline=$((SECONDS + timeout))
  until _sr_answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      if kill -0 "$pid" 2>/dev/null; then
        echo "schema-registry: no answer on 127.0.0.1:$port within ${timeout}s; stopping it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      else
        echo "schema-registry: the registry exited during start-up" >&2
      fi
      echo "--- $inst/logs/registry.log (tail)" >&2
      tail -n 40 "$inst/logs/registry.log" >&2 || true
      rm -f "$inst/registry.pid"
      return 1
    fi
    sleep 0.5
  done
  local level="${SCHEMA_REGISTRY_COMPATIBILITY:-BACKWARD}"
  if ! _sr_set_compatibility "$port" "$level"; then
    echo "schema-registry: setting the global compatibility to $level failed" >&2
    schema_registry_stop "$dir" >/dev/null
    return 1
  fi
  echo "schema-registry: started Apicurio Registry pid $pid in $((SECONDS - started))s, compatibility $level (logs: $inst/logs)"
  echo "schema.registry.url=$(_sr_url)"
}

schema_registry_stop() {
  local dir="$1" inst pid i
  inst="$(_sr_instance "$dir")"
  if pid="$(_sr_pid "$inst")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "schema-registry: pid $pid ignored TERM for 20s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    echo "schema-registry: stopped (pid $pid)"
  else
    echo "schema-registry: not running on port $(_sr_port)"
  fi
  rm -rf "$inst"
}

schema_registry_status() {
  local dir="$1" inst pid port
  port="$(_sr_port)"
  inst="$(_sr_instance "$dir")"
  if pid="$(_sr_pid "$inst")" && _sr_answers "$port"; then
    echo "schema-registry: running (pid $pid)"
    echo "schema.registry.url=$(_sr_url)"
    return 0
  fi
  echo "schema-registry: not running on port $port"
  return 1
}
