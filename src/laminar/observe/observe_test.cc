// Unit tests for the observe module: Prometheus and health rendering, the status line,
// and a real HTTP round trip against MetricsServer on a loopback port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "laminar/core/secrets.h"
#include "laminar/core/status.h"
#include "laminar/observe/metrics_server.h"
#include "laminar/observe/status_line.h"

namespace laminar::observe {
namespace {

runtime::PipelineStats SampleStats() {
  runtime::PipelineStats stats;
  stats.rows_in = 1234567;
  stats.rows_out = 1234000;
  stats.epoch = 12;
  stats.phase = "Running";
  stats.checkpoints_completed = 11;
  stats.checkpoints_failed = 0;
  stats.epochs_rolled_back = 2;
  stats.last_checkpoint_unix_ms = 1700000000000;
  stats.last_checkpoint_duration_us = 35000;
  stats.queue_depth = 3;
  stats.connectors.push_back({"orders", "kafka", true, 1234567, 999, 151, 1, "", {{"decoded", 1234567}}});
  stats.connectors.push_back({"lake", "delta", false, 1234000, 888, 150, 0, "Healthy", {}});
  return stats;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(RenderPrometheusTest, PipelineMetricsWithHelpAndType) {
  const std::string text = RenderPrometheus(SampleStats(), "p1");
  EXPECT_TRUE(Contains(text, "# HELP laminar_rows_in_total "));
  EXPECT_TRUE(Contains(text, "# TYPE laminar_rows_in_total counter\n"));
  EXPECT_TRUE(Contains(text, "laminar_rows_in_total{pipeline=\"p1\"} 1234567\n"));
  EXPECT_TRUE(Contains(text, "laminar_rows_out_total{pipeline=\"p1\"} 1234000\n"));
  EXPECT_TRUE(Contains(text, "# TYPE laminar_epoch gauge\n"));
  EXPECT_TRUE(Contains(text, "laminar_epoch{pipeline=\"p1\"} 12\n"));
  EXPECT_TRUE(Contains(text, "laminar_checkpoints_completed_total{pipeline=\"p1\"} 11\n"));
  EXPECT_TRUE(Contains(text, "laminar_checkpoints_failed_total{pipeline=\"p1\"} 0\n"));
  EXPECT_TRUE(Contains(text, "laminar_epochs_rolled_back_total{pipeline=\"p1\"} 2\n"));
  EXPECT_TRUE(Contains(text, "laminar_last_checkpoint_duration_seconds{pipeline=\"p1\"} 0.035000\n"));
  EXPECT_TRUE(Contains(text, "laminar_last_checkpoint_timestamp_seconds{pipeline=\"p1\"} 1700000000.000\n"));
  EXPECT_TRUE(Contains(text, "# TYPE laminar_queue_depth gauge\n"));
  EXPECT_TRUE(Contains(text, "laminar_queue_depth{pipeline=\"p1\"} 3\n"));
  EXPECT_TRUE(Contains(text, "laminar_connector_metric{pipeline=\"p1\",connector=\"orders\",type=\"kafka\","
                             "role=\"source\",name=\"decoded\"} 1234567\n"));
  // Every line is a comment or a sample; the exposition ends with a newline.
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
}

TEST(RenderPrometheusTest, ConnectorFamiliesAndLabels) {
  const std::string text = RenderPrometheus(SampleStats(), "p1");
  EXPECT_TRUE(Contains(text, "# TYPE laminar_connector_rows_total counter\n"));
  EXPECT_TRUE(Contains(
      text, "laminar_connector_rows_total{pipeline=\"p1\",connector=\"orders\",type=\"kafka\",role=\"source\"} 1234567\n"));
  EXPECT_TRUE(Contains(
      text, "laminar_connector_rows_total{pipeline=\"p1\",connector=\"lake\",type=\"delta\",role=\"sink\"} 1234000\n"));
  EXPECT_TRUE(Contains(
      text, "laminar_connector_bytes_total{pipeline=\"p1\",connector=\"orders\",type=\"kafka\",role=\"source\"} 999\n"));
  EXPECT_TRUE(Contains(
      text, "laminar_connector_batches_total{pipeline=\"p1\",connector=\"lake\",type=\"delta\",role=\"sink\"} 150\n"));
  EXPECT_TRUE(Contains(
      text, "laminar_connector_errors_total{pipeline=\"p1\",connector=\"orders\",type=\"kafka\",role=\"source\"} 1\n"));
  // One HELP/TYPE pair per family, however many connectors.
  size_t count = 0;
  for (size_t pos = 0; (pos = text.find("# TYPE laminar_connector_rows_total", pos)) != std::string::npos; ++pos) {
    ++count;
  }
  EXPECT_EQ(count, 1u);
}

TEST(RenderPrometheusTest, EscapesLabelValues) {
  runtime::PipelineStats stats;
  stats.connectors.push_back({"we\"ird\\name\nx", "ka\"fka", true, 5, 0, 0, 0, "", {}});
  const std::string text = RenderPrometheus(stats, "pipe\"line");
  EXPECT_TRUE(Contains(text, "laminar_rows_in_total{pipeline=\"pipe\\\"line\"} 0\n"));
  EXPECT_TRUE(Contains(text,
                       "laminar_connector_rows_total{pipeline=\"pipe\\\"line\",connector=\"we\\\"ird\\\\name\\nx\","
                       "type=\"ka\\\"fka\",role=\"source\"} 5\n"));
}

TEST(RenderPrometheusTest, NoConnectorsNoConnectorFamilies) {
  const std::string text = RenderPrometheus(runtime::PipelineStats{}, "p");
  EXPECT_FALSE(Contains(text, "laminar_connector_"));
  EXPECT_TRUE(Contains(text, "laminar_last_checkpoint_timestamp_seconds{pipeline=\"p\"} 0.000\n"));
}

TEST(RenderHealthTest, HealthyPipeline) {
  auto [code, body] = RenderHealth(SampleStats(), "p1", 1700000001500);
  EXPECT_EQ(code, 200);
  const auto json = boost::json::parse(body).as_object();
  EXPECT_EQ(json.at("status").as_string(), "ok");
  EXPECT_EQ(json.at("pipeline").as_string(), "p1");
  EXPECT_EQ(json.at("phase").as_string(), "Running");
  EXPECT_EQ(json.at("epoch").to_number<uint64_t>(), 12u);
  EXPECT_EQ(json.at("last_checkpoint_age_ms").to_number<int64_t>(), 1500);
  const auto& connectors = json.at("connectors").as_array();
  ASSERT_EQ(connectors.size(), 2u);
  const auto& first = connectors[0].as_object();
  EXPECT_EQ(first.at("name").as_string(), "orders");
  EXPECT_EQ(first.at("role").as_string(), "source");
  EXPECT_EQ(first.at("type").as_string(), "kafka");
  EXPECT_EQ(first.at("rows").to_number<int64_t>(), 1234567);
  EXPECT_EQ(first.at("errors").to_number<int64_t>(), 1);
  EXPECT_EQ(connectors[1].as_object().at("role").as_string(), "sink");
  EXPECT_EQ(connectors[1].as_object().at("health").as_string(), "Healthy");
}

TEST(RenderHealthTest, ConnectorHealthIsScrubbedOfSecrets) {
  // A connector's health reason is often a library's error text, request URLs included.
  RegisterSecret("health-s3cret-sig");
  auto stats = SampleStats();
  stats.connectors[1].health = "Unhealthy: GET /c?sig=health-s3cret-sig refused";
  auto [code, body] = RenderHealth(stats, "p1", 1700000001500);
  const auto json = boost::json::parse(body).as_object();
  EXPECT_EQ(json.at("connectors").as_array()[1].as_object().at("health").as_string(),
            "Unhealthy: GET /c?sig=*** refused");
}

TEST(RenderHealthTest, FailedPipelineIs503) {
  auto stats = SampleStats();
  stats.phase = "Failed";
  auto [code, body] = RenderHealth(stats, "p1", 1700000001500);
  EXPECT_EQ(code, 503);
  EXPECT_EQ(boost::json::parse(body).as_object().at("status").as_string(), "failing");
}

TEST(RenderHealthTest, NoCheckpointYetIsNullAge) {
  runtime::PipelineStats stats;
  stats.phase = "Recovering";
  auto [code, body] = RenderHealth(stats, "quote\"name", 1000);
  EXPECT_EQ(code, 200);
  const auto json = boost::json::parse(body).as_object();
  EXPECT_TRUE(json.at("last_checkpoint_age_ms").is_null());
  EXPECT_EQ(json.at("pipeline").as_string(), "quote\"name");
  EXPECT_TRUE(json.at("connectors").as_array().empty());
}

TEST(StatusLineTest, FormatMatchesExample) {
  auto now = SampleStats();
  auto before = now;
  before.rows_in = now.rows_in - 500000;
  const std::string line = StatusLine::Format(now, before, 2.0, now.last_checkpoint_unix_ms + 1200);
  EXPECT_EQ(line,
            "epoch 12 | in 1,234,567 rows (250,000/s) | out 1,234,000 rows | last checkpoint 1.2s ago (35 ms) | "
            "Running");
}

TEST(StatusLineTest, FormatEdgeCases) {
  runtime::PipelineStats now;
  now.phase = "Recovering";
  EXPECT_EQ(StatusLine::Format(now, now, 0.0, 123),
            "epoch 0 | in 0 rows (0/s) | out 0 rows | no checkpoint yet | Recovering");

  now.rows_in = 999;
  now.last_checkpoint_unix_ms = 1000;
  now.last_checkpoint_duration_us = 2500000;
  now.checkpoints_failed = 2;
  const std::string line = StatusLine::Format(now, runtime::PipelineStats{}, 1.0, 1000 + 125000);
  EXPECT_TRUE(Contains(line, "in 999 rows (999/s)")) << line;
  EXPECT_TRUE(Contains(line, "last checkpoint 2m05s ago (2.5 s)")) << line;
  EXPECT_TRUE(Contains(line, "2 checkpoints failed")) << line;

  // A counter that went backwards (a restarted pipeline) never shows a negative rate.
  runtime::PipelineStats before;
  before.rows_in = 5000;
  EXPECT_TRUE(Contains(StatusLine::Format(now, before, 1.0, 0), "(0/s)"));
  now.last_checkpoint_unix_ms = 1;
  EXPECT_TRUE(Contains(StatusLine::Format(now, now, 1.0, 1 + 2 * 3600 * 1000 + 3 * 60 * 1000), "2h03m ago"));
}

std::string ReadAll(std::FILE* file) {
  std::fflush(file);
  std::rewind(file);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), file)) > 0;) out.append(buf, n);
  return out;
}

// Start polls once and each tick once before writing, so n calls mean n - 2 finished writes.
void WaitForCalls(const std::atomic<int>& calls, int n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (calls.load() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(calls.load(), n);
}

TEST(StatusLineTest, TtyRewritesOneLineAndEndsWithNewline) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::atomic<int64_t> rows{0};
  std::atomic<int> calls{0};
  {
    StatusLine line(
        [&] {
          runtime::PipelineStats s;
          s.rows_in = rows += 10;
          ++calls;
          s.phase = "Running";
          return s;
        },
        /*is_tty=*/true, out, std::chrono::milliseconds(10), std::chrono::seconds(10));
    line.Start();
    line.Start();  // no-op while running
    WaitForCalls(calls, 4);
    line.Stop();
    line.Stop();  // idempotent
  }
  const std::string text = ReadAll(out);
  std::fclose(out);
  EXPECT_TRUE(Contains(text, "\r\033[Kepoch 0 | in ")) << text;
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  // Only the final newline: every update rewrites the same line.
  EXPECT_EQ(text.find('\n'), text.size() - 1);
}

TEST(StatusLineTest, NonTtyPrintsPlainLines) {
  std::FILE* out = std::tmpfile();
  ASSERT_NE(out, nullptr);
  std::atomic<int> calls{0};
  {
    StatusLine line(
        [&] {
          ++calls;
          return runtime::PipelineStats{};
        },
        /*is_tty=*/false, out, std::chrono::milliseconds(1), std::chrono::milliseconds(10));
    line.Start();
    WaitForCalls(calls, 3);
  }  // the destructor stops it
  const std::string text = ReadAll(out);
  std::fclose(out);
  EXPECT_FALSE(Contains(text, "\r")) << text;
  EXPECT_FALSE(Contains(text, "\033")) << text;
  EXPECT_TRUE(Contains(text, "epoch 0 | in 0 rows (0/s) | out 0 rows | no checkpoint yet\n")) << text;
}

// --- HTTP round trip -------------------------------------------------------------------

struct HttpReply {
  int code = 0;
  std::string head;
  std::string body;
};

int ConnectLoopback(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};  // a hung server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` verbatim and reads until the server closes (it always sends Connection: close).
HttpReply RawExchange(uint16_t port, const std::string& request) {
  HttpReply reply;
  int fd = ConnectLoopback(port);
  if (fd < 0) return reply;
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) return reply;
  reply.code = std::stoi(raw.substr(9, 3));
  reply.head = raw.substr(0, split);
  reply.body = raw.substr(split + 4);
  return reply;
}

HttpReply Get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  return RawExchange(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

std::unique_ptr<MetricsServer> StartSampleServer(uint16_t port = 0) {
  auto server = MetricsServer::Start(
      "127.0.0.1", port, [] { return RenderPrometheus(SampleStats(), "p1"); },
      [] { return RenderHealth(SampleStats(), "p1", 1700000001000); });
  EXPECT_TRUE(server.ok()) << server.status().ToString();
  return server.ok() ? std::move(server).ValueUnsafe() : nullptr;
}

TEST(MetricsServerTest, ServesMetricsHealthAndErrors) {
  auto server = StartSampleServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);

  HttpReply metrics = Get(server->port(), "/metrics");
  EXPECT_EQ(metrics.code, 200);
  EXPECT_TRUE(Contains(metrics.head, "Content-Type: text/plain; version=0.0.4")) << metrics.head;
  EXPECT_EQ(metrics.body, RenderPrometheus(SampleStats(), "p1"));

  HttpReply health = Get(server->port(), "/health");
  EXPECT_EQ(health.code, 200);
  EXPECT_TRUE(Contains(health.head, "Content-Type: application/json")) << health.head;
  EXPECT_EQ(boost::json::parse(health.body).as_object().at("status").as_string(), "ok");

  EXPECT_EQ(Get(server->port(), "/metrics?name[]=x").code, 200);  // scrapers may add a query
  EXPECT_EQ(Get(server->port(), "/nope").code, 404);
  HttpReply post = Get(server->port(), "/metrics", "POST");
  EXPECT_EQ(post.code, 405);
  EXPECT_TRUE(Contains(post.head, "Allow: GET")) << post.head;
}

TEST(MetricsServerTest, HealthPassesThroughStatusCode) {
  auto server = MetricsServer::Start(
      "127.0.0.1", 0, [] { return std::string(); },
      [] {
        auto stats = SampleStats();
        stats.phase = "Failed";
        return RenderHealth(stats, "p1", 0);
      });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  HttpReply health = Get((*server)->port(), "/health");
  EXPECT_EQ(health.code, 503);
  EXPECT_EQ(boost::json::parse(health.body).as_object().at("status").as_string(), "failing");
}

TEST(MetricsServerTest, ThrowingCallbackIs500AndServerSurvives) {
  auto server = MetricsServer::Start(
      "127.0.0.1", 0, []() -> std::string { throw std::runtime_error("boom"); },
      [] { return std::pair<int, std::string>(200, "{}"); });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  EXPECT_EQ(Get((*server)->port(), "/metrics").code, 500);
  EXPECT_EQ(Get((*server)->port(), "/health").code, 200);
}

TEST(MetricsServerTest, GarbageAndIdleClientsDoNotBlockOthers) {
  auto server = StartSampleServer();
  ASSERT_NE(server, nullptr);
  // A client that connects and sends nothing holds a connection but not the thread.
  int idle = ConnectLoopback(server->port());
  ASSERT_GE(idle, 0);
  // A half-sent request, then silence.
  int partial = ConnectLoopback(server->port());
  ASSERT_GE(partial, 0);
  const char half[] = "GET /metr";
  ASSERT_GT(::send(partial, half, sizeof(half) - 1, MSG_NOSIGNAL), 0);

  EXPECT_EQ(RawExchange(server->port(), "\x01\x02 not http at all\r\n\r\n").code, 400);
  // An oversized header is refused; the reply may be lost to a reset as the server closes
  // with the rest unread, so only "not served" is certain.
  const int oversized = RawExchange(server->port(), "GET / HTTP/1.1\r\nX: " + std::string(64 * 1024, 'a') + "\r\n\r\n").code;
  EXPECT_TRUE(oversized == 400 || oversized == 0) << oversized;
  EXPECT_EQ(Get(server->port(), "/metrics").code, 200);
  EXPECT_EQ(Get(server->port(), "/health").code, 200);

  // The destructor must not wait for the idle clients.
  const auto started = std::chrono::steady_clock::now();
  server.reset();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  ::close(idle);
  ::close(partial);
}

TEST(MetricsServerTest, SecondServerOnSamePortIsConfigError) {
  auto first = StartSampleServer();
  ASSERT_NE(first, nullptr);
  auto second = MetricsServer::Start(
      "127.0.0.1", first->port(), [] { return std::string(); },
      [] { return std::pair<int, std::string>(200, "{}"); });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(KindOf(second.status()), ErrorKind::kConfig);
  EXPECT_TRUE(Contains(second.status().message(), "--metrics-port")) << second.status().ToString();
  EXPECT_TRUE(Contains(second.status().message(), "in use")) << second.status().ToString();
  // The first one still serves.
  EXPECT_EQ(Get(first->port(), "/health").code, 200);
}

TEST(MetricsServerTest, UnresolvableHostIsConfigError) {
  auto server = MetricsServer::Start(
      "no such host.invalid", 0, [] { return std::string(); },
      [] { return std::pair<int, std::string>(200, "{}"); });
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(KindOf(server.status()), ErrorKind::kConfig);
  EXPECT_TRUE(Contains(server.status().message(), "--metrics-port")) << server.status().ToString();
}

}  // namespace
}  // namespace laminar::observe
