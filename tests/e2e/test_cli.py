"""The laminar-connect command line: exit codes, error positions, connector listing,
/metrics and /health while a pipeline runs."""
import json
import os
import re
import subprocess
import time
import urllib.request

import pytest

GOOD = """
CREATE SOURCE s (id BIGINT NOT NULL, name VARCHAR) FROM DATAGEN (
  'rows-per-second' = '{rate}', 'number-of-rows' = '{rows}', 'fields.id.kind' = 'sequence');
CREATE SINK k FROM s INTO FILES (path = '{out}');
"""


def cli(binary, *args, timeout=60):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


def test_validate_good_file(laminar_connect, tmp_path):
    ddl = tmp_path / "good.sql"
    ddl.write_text(GOOD.format(rate=10, rows=10, out=tmp_path / "out"))
    result = cli(laminar_connect, "validate", str(ddl))
    assert result.returncode == 0, result.stderr
    assert "ok (1 sources, 1 sinks)" in result.stdout
    assert not (tmp_path / "out").exists()  # validate does no I/O


def test_bad_input_exits_2_with_file_line_column_and_caret(laminar_connect, tmp_path):
    cases = [
        ("CREATE SOURCE s (id BIGINT, v INTERVAL) FROM DATAGEN ();", r":1:31: type INTERVAL is not supported", 31),
        ("CREATE SOURCE s (id BIGINT) FROM DATAGEN (\n  seed = 'x'\n);", r":2:10: .*option 'seed' = 'x'", 10),
        ("CREATE SOURCE s (id BIGINT) FROM DATAGEN ();\nCREATE SINK k FROM s INTO FILES (path = '/x', colour = 'red');",
         r":2:47: .*unknown option 'colour'", 47),
        ("CREATE SOURCE s (id BIGINT) FROM KAFAK ();", r":1:34: .*unknown source connector type 'kafak'", 34),
        ("CREATE SOURCE s (id BIGINT) FROM DATAGEN ();\nCREATE SINK k FROM t INTO FILES (path = '/x');",
         r":2:20: ", 20),
    ]
    for text, pattern, column in cases:
        ddl = tmp_path / "bad.sql"
        ddl.write_text(text)
        for command in ("validate", "run"):
            result = cli(laminar_connect, command, str(ddl), *(["--checkpoint-dir", str(tmp_path / "cp")]
                                                              if command == "run" else []))
            assert result.returncode == 2, (text, result.stderr)
            assert re.search(str(ddl) + pattern, result.stderr), (pattern, result.stderr)
            caret_line = result.stderr.rstrip("\n").splitlines()[-1]
            assert caret_line.index("^") == column + 1, result.stderr  # two spaces of indent, 1-based column


def test_validate_runs_the_kafka_connectors_own_checks_without_connecting(laminar_connect, tmp_path):
    # Nothing listens on port 1: validate must judge the options without a broker.
    ddl = tmp_path / "kafka_source.sql"
    ddl.write_text("CREATE SOURCE s (id BIGINT) FROM KAFKA ('bootstrap.servers' = '127.0.0.1:1', topic = 't',\n"
                   "  'group.id' = 'g', 'security.protocol' = 'sasl_plaintext', 'sasl.mechanism' = 'PLAINX',\n"
                   "  'sasl.username' = 'u', 'sasl.password' = 'secret-pw');\n"
                   "CREATE SINK k FROM s INTO FILES (path = '/nowhere');")
    result = cli(laminar_connect, "validate", str(ddl))
    assert result.returncode == 2, result
    assert re.search(str(ddl) + r":2:.*option 'sasl.mechanism' = 'PLAINX' is not one of", result.stderr), result.stderr
    assert "secret-pw" not in result.stderr + result.stdout

    ddl = tmp_path / "kafka_sink.sql"
    ddl.write_text("CREATE SOURCE s (id BIGINT) FROM DATAGEN ();\n"
                   "CREATE SINK k FROM s INTO KAFKA ('bootstrap.servers' = '127.0.0.1:1', topic = 't',\n"
                   "  'linger.ms' = '200000');")
    result = cli(laminar_connect, "validate", str(ddl))
    assert result.returncode == 2, result
    assert re.search(str(ddl) + r":3:.*option 'linger.ms' \(200000\) must be below delivery.timeout.ms",
                     result.stderr), result.stderr


def test_missing_file_and_bad_flags_exit_2(laminar_connect, tmp_path):
    assert cli(laminar_connect, "run", str(tmp_path / "nope.sql")).returncode == 2
    assert cli(laminar_connect, "run").returncode == 2
    assert cli(laminar_connect, "frobnicate").returncode == 2
    assert cli(laminar_connect, "run", "x.sql", "--checkpoint-interval", "-5").returncode == 2


def test_connectors_lists_keys_defaults_and_descriptions(laminar_connect):
    result = cli(laminar_connect, "connectors")
    assert result.returncode == 0
    out = result.stdout
    assert "source datagen" in out and "sink files" in out
    assert re.search(r"rows-per-second\s+unsigned integer.*default 10000", out)
    assert re.search(r"path\s+string, required", out)
    assert re.search(r"format\s+one of parquet\|json\|csv, default parquet", out)


def test_run_help_shows_the_type_table(laminar_connect):
    result = cli(laminar_connect, "run", "--help")
    assert result.returncode == 0
    assert "DECIMAL(p,s)" in result.stdout or "DECIMAL(p, s)" in result.stdout


def test_metrics_and_health_while_running(laminar_connect, tmp_path):
    ddl = tmp_path / "live.sql"
    ddl.write_text(GOOD.format(rate=2000, rows=1_000_000, out=tmp_path / "out"))
    proc = subprocess.Popen([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp_path / "cp"),
                             "--checkpoint-interval", "200", "--metrics-port", "0", "--no-status"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        deadline = time.time() + 20
        while port is None and time.time() < deadline:
            line = proc.stderr.readline()
            match = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
            if match:
                port = int(match.group(1))
        assert port, "no metrics address logged"
        time.sleep(1.0)
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        rows_in = re.search(r'^laminar_rows_in_total\{[^}]*\} (\d+)', metrics, re.M)
        assert rows_in and int(rows_in.group(1)) > 0, metrics
        assert re.search(r'laminar_connector_rows_total\{[^}]*connector="k"', metrics)
        assert re.search(r'^laminar_checkpoints_completed_total\{[^}]*\} [1-9]', metrics, re.M), metrics
        health = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).read())
        assert health["status"] == "ok" and health["epoch"] >= 2
    finally:
        proc.send_signal(2)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


AZURE_SINK = """
CREATE SOURCE s (id BIGINT NOT NULL) FROM DATAGEN ('number-of-rows' = '10', 'fields.id.kind' = 'sequence');
CREATE SINK lake FROM s INTO DELTA_LAKE ('table.path' = 'az://container/table',
  'storage.azure_storage_account_name' = 'devacct',
  -- nothing listens on port 1: Arrow's Azure filesystem fails, quoting its request URL
  'storage.azure_storage_endpoint' = 'http://127.0.0.1:1'{sas});
"""


def test_secrets_in_library_errors_are_masked(laminar_connect, laminar_connectors, tmp_path):
    """Arrow's Azure errors carry the request URL with the SAS token's sig; whether the token came
    from the DDL or the environment, no form of the signature may reach the output."""
    if ("sink", "delta-lake") not in laminar_connectors:
        pytest.skip("built without the delta-lake sink")
    token = "sv=2021&sig=SuperSecretSig123%3D"
    runs = []
    # Side by side: the Azure SDK retries the refused connection for about 30 s.
    for name, sas, env in [("ddl", f",\n  'storage.azure_storage_sas_token' = '{token}'", {}),
                           ("env", "", {"AZURE_STORAGE_SAS_TOKEN": token})]:
        ddl = tmp_path / f"azure_{name}.sql"
        ddl.write_text(AZURE_SINK.format(sas=sas))
        runs.append(subprocess.Popen([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(tmp_path / name),
                                      "--no-status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **env}))
    for proc in runs:
        stdout, stderr = proc.communicate(timeout=120)
        output = stdout + stderr
        assert proc.returncode != 0, output
        # Every form of the signature (%3D, =, %253D) contains this.
        assert "SuperSecretSig123" not in output, output
        # The error itself survives, with its non-secret parts.
        assert "***" in output and "127.0.0.1:1" in output and "devacct" in output, output


def test_secrets_in_log_lines_are_masked(laminar_connect, tmp_path):
    """Every log line passes the scrubber: here a secret from the environment that happens to be part
    of the checkpoint directory, which the start-up line shows; the rest of the line stays."""
    checkpoints = tmp_path / "cp-LogSecretSig456="
    ddl = tmp_path / "good.sql"
    ddl.write_text(GOOD.format(rate=1000, rows=10, out=tmp_path / "out"))
    result = subprocess.run([laminar_connect, "run", str(ddl), "--checkpoint-dir", str(checkpoints), "--no-status"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "AZURE_STORAGE_SAS_TOKEN": "sv=2021&sig=LogSecretSig456%3D"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "LogSecretSig456" not in output, output
    assert f"checkpoints in {tmp_path}/cp-***" in output, output
    assert "stopped cleanly: 10 rows in, 10 rows out" in output, output
