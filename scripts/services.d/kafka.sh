# Apache Kafka 3.9 (KRaft, one node that is broker and controller) for the tests.
# Sourced by scripts/services; defines kafka_start, kafka_stop and kafka_status.
#
#   KAFKA_PORT=9092 scripts/services start kafka   -> prints bootstrap.servers=127.0.0.1:9092
#
# Environment:
#   KAFKA_PORT                 PLAINTEXT listener on 127.0.0.1 (default 9092); one broker
#                              per port, so tests can run several side by side.
#   KAFKA_CONTROLLER_PORT      controller listener (default: a free loopback port)
#   KAFKA_START_TIMEOUT        seconds to wait for the broker to answer (default 60)
#   KAFKA_HEAP                 JVM heap (default 512m)
#   KAFKA_SECURITY             1: also open secured listeners on free loopback ports (below);
#                              unset or 0: PLAINTEXT only, as fast as before
#   KAFKA_SASL_USER            with KAFKA_SECURITY: the SASL user (default laminar) ...
#   KAFKA_SASL_PASSWORD        ... and its password (default: random per start)
#   LAMINAR_CACHE_DIR          where the broker's jars are kept (default ~/.cache/laminar)
#
# The jars come from Maven Central: scripts/kafka/pom.xml, resolved once with
# `mvn dependency:copy-dependencies` into $LAMINAR_CACHE_DIR/kafka-<pom hash>/lib.
# Each start formats a fresh log directory; stop deletes it.
#
# With KAFKA_SECURITY=1 the broker also listens on (each announced as <name>.bootstrap.servers=):
#   sasl_plaintext  SASL over TCP: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
#   ssl             TLS, server authentication only
#   mtls            TLS that requires a client certificate signed by the test CA
#   sasl_ssl        SASL (the same mechanisms) over TLS
# One user for every mechanism: PLAIN from the listener's JAAS config, SCRAM credentials
# written by `kafka-storage format --add-scram`. A fresh CA, broker certificate (SAN
# IP:127.0.0.1, DNS:localhost) and client certificate (key encrypted with a password) are
# made with openssl at each start; their paths and the user are announced as librdkafka
# property lines (ssl.ca.location=..., sasl.username=...). No authorizer: any
# authenticated user may do anything. Inter-broker and controller traffic stay PLAINTEXT.

_kafka_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

_kafka_port() { echo "${KAFKA_PORT:-9092}"; }

# The instance directory of the broker on $KAFKA_PORT under the service directory.
_kafka_instance() { echo "$1/$(_kafka_port)"; }

# Fetches the broker's jars (once per pom) and prints the lib directory.
_kafka_lib() {
  local pom="$_kafka_root/scripts/kafka/pom.xml"
  local cache="${LAMINAR_CACHE_DIR:-$HOME/.cache/laminar}"
  local hash
  hash="$(sha256sum "$pom" | cut -c1-12)"
  local dest="$cache/kafka-$hash"
  if [ ! -f "$dest/.complete" ]; then
    command -v mvn >/dev/null || { echo "kafka: mvn not found (scripts/bootstrap installs maven)" >&2; return 1; }
    echo "kafka: fetching the broker's jars from Maven Central into $dest" >&2
    mkdir -p "$cache"
    local tmp
    tmp="$(mktemp -d "$cache/kafka-tmp.XXXXXX")"
    if ! mvn -q -B -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
         -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1; then
      echo "kafka: mvn dependency:copy-dependencies failed:" >&2
      tail -n 30 "$tmp/mvn.log" >&2
      rm -rf "$tmp"
      return 1
    fi
    touch "$tmp/.complete"
    # Another start may have finished first; either copy is complete.
    if ! mv -T "$tmp" "$dest" 2>/dev/null; then rm -rf "$tmp"; fi
  fi
  echo "$dest/lib"
}

# Prints the pid of the broker of this instance if it runs, else fails.
_kafka_pid() {
  local inst="$1" pid
  [ -f "$inst/kafka.pid" ] || return 1
  pid="$(cat "$inst/kafka.pid")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # A recycled pid is not our broker.
  local cmdline
  cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
  [[ "$cmdline" == *"kafka.Kafka $inst/server.properties"* ]] || return 1
  echo "$pid"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
_kafka_port_open() {
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

# Asks the broker on 127.0.0.1:$1 for cluster metadata (Metadata v1 over the Kafka wire
# protocol) and succeeds when it lists broker node 1 at that port: the broker has
# registered with the controller and serves clients.
_kafka_metadata_ok() {
  python3 - "$1" <<'PY'
import socket, struct, sys
port = int(sys.argv[1])
client = b"laminar-services"
# Header v1: api_key 3 (Metadata), api_version 1, correlation id, client id; body: topics = null (all).
request = struct.pack(">hhih", 3, 1, 7, len(client)) + client + struct.pack(">i", -1)
try:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        def read(n):
            data = b""
            while len(data) < n:
                chunk = s.recv(n - len(data))
                if not chunk:
                    raise OSError("connection closed")
                data += chunk
            return data
        (size,) = struct.unpack(">i", read(4))
        body = read(size)
except OSError:
    sys.exit(1)
correlation, count = struct.unpack_from(">ii", body, 0)
if correlation != 7:
    sys.exit(1)
pos = 8
for _ in range(count):
    node, host_len = struct.unpack_from(">ih", body, pos)
    pos += 6
    pos += host_len
    (broker_port, rack_len) = struct.unpack_from(">ih", body, pos)
    pos += 6 + max(rack_len, 0)
    if node == 1 and broker_port == port:
        sys.exit(0)
sys.exit(1)
PY
}

# Succeeds when every port given accepts connections (and when none is given).
_kafka_ports_open() {
  local p
  for p in "$@"; do _kafka_port_open "$p" || return 1; done
}

_kafka_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

_kafka_cluster_id() {
  # A Kafka Uuid: 16 random bytes in URL-safe base64 without padding; one that starts
  # with '-' would read as an option on the command line.
  python3 - <<'PY'
import base64, uuid
while True:
    text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    if not text.startswith("-"):
        print(text)
        break
PY
}

# Makes the test CA, the broker's PEM key store and a client certificate under $1/tls:
#   ca.pem, ca.key           self-signed CA (EC P-256, 2 days)
#   broker-keystore.pem      the broker's key (encrypted PKCS#8: Kafka's PEM key store
#                            requires ssl.key.password, $4) and certificate for 127.0.0.1
#   client.pem, client.key   client certificate (CN=$2), its key encrypted with $3
_kafka_make_tls() {
  local tls="$1/tls" client_cn="$2" client_key_password="$3" broker_key_password="$4"
  mkdir -p "$tls"
  (
    set -e
    cd "$tls"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
    openssl req -x509 "${ec[@]}" -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=laminar-test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new "${ec[@]}" -nodes -keyout broker.key -out broker.csr -subj "/CN=127.0.0.1"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile broker.ext \
      -out broker.pem
    openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES -in broker.key -passout "pass:$broker_key_password" -out broker-enc.key
    cat broker-enc.key broker.pem >broker-keystore.pem
    openssl req -new "${ec[@]}" -keyout client.key -passout "pass:$client_key_password" -out client.csr \
      -subj "/CN=$client_cn"
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile client.ext \
      -out client.pem
    rm -f broker.key broker-enc.key broker.csr client.csr ./*.ext
  ) >"$1/logs/tls.log" 2>&1
}

# With KAFKA_SECURITY=1: makes the TLS files and the user, adds the secured listeners to
# $1/server.properties, writes the announcement to $1/security.env and the SCRAM
# credentials (StorageTool format arguments, one per line) to $1/scram.args.
_kafka_security_setup() {
  local inst="$1" user password key_password broker_key_password
  local sasl_port ssl_port mtls_port sasl_ssl_port listeners
  user="${KAFKA_SASL_USER:-laminar}"
  password="${KAFKA_SASL_PASSWORD:-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')}"
  key_password="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  broker_key_password="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
  # Both end up inside JAAS strings and inside --add-scram's [name=...,password=...].
  if [[ "$user$password" =~ [^A-Za-z0-9._-] ]]; then
    echo "kafka: KAFKA_SASL_USER and KAFKA_SASL_PASSWORD may hold only letters, digits, '.', '_' and '-'" >&2
    return 1
  fi
  if ! _kafka_make_tls "$inst" "$user" "$key_password" "$broker_key_password"; then
    echo "kafka: making the test certificates with openssl failed:" >&2
    tail -n 20 "$inst/logs/tls.log" >&2
    return 1
  fi
  sasl_port="$(_kafka_free_port)"
  ssl_port="$(_kafka_free_port)"
  mtls_port="$(_kafka_free_port)"
  sasl_ssl_port="$(_kafka_free_port)"
  listeners="SASL_PLAINTEXT://127.0.0.1:$sasl_port,SSL://127.0.0.1:$ssl_port"
  listeners+=",MTLS://127.0.0.1:$mtls_port,SASL_SSL://127.0.0.1:$sasl_ssl_port"
  sed -i -e "s|^listeners=.*|&,$listeners|" -e "s|^advertised.listeners=.*|&,$listeners|" \
    -e "s|^listener.security.protocol.map=.*|&,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_SSL:SASL_SSL|" \
    "$inst/server.properties"
  cat >>"$inst/server.properties" <<EOF
ssl.keystore.type=PEM
ssl.keystore.location=$inst/tls/broker-keystore.pem
ssl.key.password=$broker_key_password
ssl.truststore.type=PEM
ssl.truststore.location=$inst/tls/ca.pem
ssl.client.auth=none
listener.name.mtls.ssl.client.auth=required
EOF
  local listener
  for listener in sasl_plaintext sasl_ssl; do
    cat >>"$inst/server.properties" <<EOF
listener.name.$listener.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.$listener.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$user="$password";
listener.name.$listener.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.$listener.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  done
  printf '%s\n' --add-scram "SCRAM-SHA-256=[name=$user,password=$password]" \
    --add-scram "SCRAM-SHA-512=[name=$user,password=$password]" >"$inst/scram.args"
  cat >"$inst/security.env" <<EOF
sasl_plaintext.bootstrap.servers=127.0.0.1:$sasl_port
ssl.bootstrap.servers=127.0.0.1:$ssl_port
mtls.bootstrap.servers=127.0.0.1:$mtls_port
sasl_ssl.bootstrap.servers=127.0.0.1:$sasl_ssl_port
sasl.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
sasl.username=$user
sasl.password=$password
ssl.ca.location=$inst/tls/ca.pem
ssl.certificate.location=$inst/tls/client.pem
ssl.key.location=$inst/tls/client.key
ssl.key.password=$key_password
EOF
}

# The ports of the secured listeners of a KAFKA_SECURITY instance (nothing otherwise).
_kafka_security_ports() {
  [ -f "$1/security.env" ] || return 0
  sed -n 's/^[a-z_]*\.bootstrap\.servers=127\.0\.0\.1:\([0-9]*\)$/\1/p' "$1/security.env"
}

kafka_start() {
  local dir="$1" port inst pid lib cport cid started
  port="$(_kafka_port)"
  inst="$(_kafka_instance "$dir")"
  if pid="$(_kafka_pid "$inst")"; then
    echo "kafka: already running (pid $pid)"
    echo "bootstrap.servers=127.0.0.1:$port"
    if [ -f "$inst/security.env" ]; then cat "$inst/security.env"; fi
    return 0
  fi
  command -v java >/dev/null || { echo "kafka: java not found (scripts/bootstrap installs a JDK)" >&2; return 1; }
  if _kafka_port_open "$port"; then
    echo "kafka: 127.0.0.1:$port is already in use by another process" >&2
    return 1
  fi
  lib="$(_kafka_lib)" || return 1
  started=$SECONDS
  rm -rf "$inst"
  mkdir -p "$inst/data" "$inst/logs"
  cport="${KAFKA_CONTROLLER_PORT:-$(_kafka_free_port)}"
  cat >"$inst/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$inst/data
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=24
EOF
  local format_args=()
  if [ "${KAFKA_SECURITY:-0}" = 1 ]; then
    _kafka_security_setup "$inst" || return 1
    mapfile -t format_args <"$inst/scram.args"
  fi
  cat >"$inst/log4j.properties" <<EOF
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$inst/logs/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.controller=INFO
EOF
  local java_opts=(-Xmx"${KAFKA_HEAP:-512m}" -Xms128m -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true -Dlog4j.configuration="file:$inst/log4j.properties"
    -Dkafka.logs.dir="$inst/logs" -cp "$lib/*")
  cid="$(_kafka_cluster_id)"
  if ! java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cid" -c "$inst/server.properties" \
       "${format_args[@]}" >"$inst/logs/format.log" 2>&1; then
    echo "kafka: formatting the log directory failed:" >&2
    tail -n 30 "$inst/logs/format.log" >&2
    return 1
  fi
  # setsid: the broker outlives the shell that started it and gets no terminal signals.
  # The shell writes its own pid and then becomes java, so the pidfile names the broker.
  rm -f "$inst/kafka.pid"
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$inst/kafka.pid" \
    java "${java_opts[@]}" kafka.Kafka "$inst/server.properties" \
    >"$inst/logs/stdout.log" 2>&1 </dev/null &
  local i
  for i in $(seq 1 50); do [ -s "$inst/kafka.pid" ] && break; sleep 0.1; done
  pid="$(cat "$inst/kafka.pid" 2>/dev/null)"
  [ -n "$pid" ] || { echo "kafka: the broker did not start" >&2; return 1; }
  local deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-60}))
  local secured
  secured="$(_kafka_security_ports "$inst" | tr '\n' ' ')"
  # shellcheck disable=SC2086  # one word per port
  until _kafka_port_open "$port" && _kafka_metadata_ok "$port" && _kafka_ports_open $secured; do
    if ! kill -0 "$pid" 2>/dev/null || ((SECONDS >= deadline)); then
      if kill -0 "$pid" 2>/dev/null; then
        echo "kafka: no answer on 127.0.0.1:$port within ${KAFKA_START_TIMEOUT:-60}s; stopping it" >&2
        kill -KILL "$pid" 2>/dev/null || true
      else
        echo "kafka: the broker exited during start-up" >&2
      fi
      echo "--- $inst/logs/stdout.log (tail)" >&2
      tail -n 20 "$inst/logs/stdout.log" >&2 || true
      echo "--- $inst/logs/server.log (tail)" >&2
      tail -n 40 "$inst/logs/server.log" >&2 || true
      rm -f "$inst/kafka.pid"
      return 1
    fi
    sleep 0.5
  done
  echo "kafka: started 3.9 KRaft broker pid $pid in $((SECONDS - started))s (logs: $inst/logs)"
  echo "bootstrap.servers=127.0.0.1:$port"
  if [ -f "$inst/security.env" ]; then cat "$inst/security.env"; fi
}

kafka_stop() {
  local dir="$1" inst pid i
  inst="$(_kafka_instance "$dir")"
  if pid="$(_kafka_pid "$inst")"; then
    kill -TERM "$pid" 2>/dev/null || true
    # A one-node KRaft broker shuts down in a few seconds; give it 30.
    for i in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "kafka: pid $pid ignored TERM for 30s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      for i in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
    echo "kafka: stopped (pid $pid)"
  else
    echo "kafka: not running on port $(_kafka_port)"
  fi
  rm -rf "$inst"
}

kafka_status() {
  local dir="$1" inst pid port
  port="$(_kafka_port)"
  inst="$(_kafka_instance "$dir")"
  if pid="$(_kafka_pid "$inst")" && _kafka_metadata_ok "$port"; then
    echo "kafka: running (pid $pid)"
    echo "bootstrap.servers=127.0.0.1:$port"
    if [ -f "$inst/security.env" ]; then cat "$inst/security.env"; fi
    return 0
  fi
  echo "kafka: not running on port $port"
  return 1
}
