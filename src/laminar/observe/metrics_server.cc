// MetricsServer: Boost.Beast over one io_context thread, one request per connection.
// Everything below runs on that thread except Start (caller) and the destructor (owner).
#include "laminar/observe/metrics_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string_view>
#include <thread>
#include <vector>

#include "laminar/core/secrets.h"
#include "laminar/core/status.h"

namespace laminar::observe {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A scraper sends its request at once; anything slower is a stuck or hostile client.
constexpr auto kReadTimeout = std::chrono::seconds(5);
constexpr auto kWriteTimeout = std::chrono::seconds(5);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 8 * 1024;  // we only serve GET; a big body is garbage
// Backoff after a failed accept (EMFILE and friends) so the loop does not spin.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);

constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

struct Handlers {
  std::function<std::string()> metrics_text;
  std::function<std::pair<int, std::string>()> health_json;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handlers> handlers)
      : stream_(std::move(socket)), handlers_(std::move(handlers)) {
    parser_.header_limit(kHeaderLimit);
    parser_.body_limit(kBodyLimit);
  }

  void Run() {
    stream_.expires_after(kReadTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset) {
      return Close();
    }
    if (ec) return Reply(400, "text/plain", "bad request\n");
    Handle(parser_.get());
  }

  void Handle(const http::request<http::string_body>& request) {
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    const bool is_metrics = target == "/metrics" && handlers_->metrics_text;
    const bool is_health = target == "/health" && handlers_->health_json;
    if (!is_metrics && !is_health) return Reply(404, "text/plain", "not found\n");
    if (request.method() != http::verb::get) {
      response_.set(http::field::allow, "GET");
      return Reply(405, "text/plain", "method not allowed\n");
    }
    // A throwing callback must not take the server thread down with it.
    try {
      if (is_metrics) return Reply(200, kPrometheusContentType, handlers_->metrics_text());
      auto [code, body] = handlers_->health_json();
      if (code < 100 || code > 599) code = 500;
      return Reply(code, "application/json", std::move(body));
    } catch (const std::exception& e) {
      return Reply(500, "text/plain", "internal error: " + Scrub(e.what()) + "\n");
    } catch (...) {
      return Reply(500, "text/plain", "internal error\n");
    }
  }

  void Reply(int code, const char* content_type, std::string body) {
    response_.result(static_cast<unsigned>(code));
    response_.version(11);
    response_.set(http::field::server, "laminar-connect");
    response_.set(http::field::content_type, content_type);
    response_.keep_alive(false);
    response_.body() = std::move(body);
    response_.prepare_payload();
    stream_.expires_after(kWriteTimeout);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<const Handlers> handlers_;
  beast::flat_buffer buffer_;
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> response_;
};

std::string HostPort(const std::string& host, uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Prometheus label values escape backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatFixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

void AppendHeader(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void AppendSample(std::string& out, const char* name, const std::string& labels, const std::string& value) {
  out += name;
  out += '{';
  out += labels;
  out += "} ";
  out += value;
  out += '\n';
}

}  // namespace

struct MetricsServer::Impl {
  std::shared_ptr<const Handlers> handlers;
  asio::io_context ioc{1};
  // Keeps run() alive while the acceptor backs off between failed accepts.
  asio::executor_work_guard<asio::io_context::executor_type> work{ioc.get_executor()};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer retry_timer{ioc};
  uint16_t port = 0;
  std::thread thread;

  void Accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) {
        retry_timer.expires_after(kAcceptRetry);
        retry_timer.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec) Accept();
        });
        return;
      }
      std::make_shared<Session>(std::move(socket), handlers)->Run();
      Accept();
    });
  }
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetricsServer::~MetricsServer() {
  // stop() makes run() return after the handler in progress; sessions still pending are
  // destroyed (and their sockets closed) with the io_context, after the acceptor.
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

uint16_t MetricsServer::port() const { return impl_->port; }

arrow::Result<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host, uint16_t port, std::function<std::string()> metrics_text,
    std::function<std::pair<int, std::string>()> health_json) {
  auto impl = std::make_unique<Impl>();
  impl->handlers = std::make_shared<const Handlers>(Handlers{std::move(metrics_text), std::move(health_json)});
  const std::string where = HostPort(host, port);

  beast::error_code ec;
  tcp::resolver resolver(impl->ioc);
  const auto endpoints = resolver.resolve(host, std::to_string(port),
                                          tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || endpoints.empty()) {
    return ConfigError("--metrics-port", "cannot resolve metrics host '" + host + "': " + ec.message());
  }

  // The first endpoint that binds wins (a name may resolve to IPv6 and IPv4).
  beast::error_code bind_ec;
  bool bound = false;
  for (const auto& entry : endpoints) {
    beast::error_code ignored;
    if (impl->acceptor.is_open()) impl->acceptor.close(ignored);
    impl->acceptor.open(entry.endpoint().protocol(), ec);
    if (ec) {
      bind_ec = ec;
      continue;
    }
    // Lets a restarted process rebind while old connections sit in TIME_WAIT; on Linux it
    // does not allow two live listeners on one port.
    impl->acceptor.set_option(asio::socket_base::reuse_address(true), ignored);
    impl->acceptor.bind(entry.endpoint(), bind_ec);
    if (!bind_ec) {
      bound = true;
      break;
    }
  }
  if (!bound) {
    if (bind_ec == asio::error::address_in_use) {
      return ConfigError("--metrics-port", "cannot listen on " + where + ": address already in use");
    }
    return ConfigError("--metrics-port", "cannot listen on " + where + ": " + bind_ec.message());
  }
  impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return FatalError("boost.asio", "listen on " + where + ": " + ec.message(), ec.value());
  impl->port = impl->acceptor.local_endpoint(ec).port();
  if (ec) return FatalError("boost.asio", "local address of " + where + ": " + ec.message(), ec.value());

  impl->Accept();
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->ioc.run(); });
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::string RenderPrometheus(const runtime::PipelineStats& stats, const std::string& pipeline_name) {
  const std::string pipeline = "pipeline=\"" + EscapeLabelValue(pipeline_name) + "\"";
  std::string out;
  out.reserve(2048 + stats.connectors.size() * 512);

  auto scalar = [&](const char* name, const char* type, const char* help, const std::string& value) {
    AppendHeader(out, name, type, help);
    AppendSample(out, name, pipeline, value);
  };
  scalar("laminar_rows_in_total", "counter", "Rows read from all sources.", std::to_string(stats.rows_in));
  scalar("laminar_rows_out_total", "counter", "Rows written to all sinks.", std::to_string(stats.rows_out));
  scalar("laminar_epoch", "gauge", "Current checkpoint epoch.", std::to_string(stats.epoch));
  scalar("laminar_checkpoints_completed_total", "counter", "Checkpoints committed.",
         std::to_string(stats.checkpoints_completed));
  scalar("laminar_checkpoints_failed_total", "counter", "Checkpoints that failed.",
         std::to_string(stats.checkpoints_failed));
  scalar("laminar_epochs_rolled_back_total", "counter", "Epochs rolled back and replayed.",
         std::to_string(stats.epochs_rolled_back));
  scalar("laminar_last_checkpoint_duration_seconds", "gauge", "Duration of the last completed checkpoint.",
         FormatFixed(static_cast<double>(stats.last_checkpoint_duration_us) / 1e6, 6));
  scalar("laminar_last_checkpoint_timestamp_seconds", "gauge",
         "Unix time of the last completed checkpoint (0 before the first).",
         FormatFixed(static_cast<double>(stats.last_checkpoint_unix_ms) / 1e3, 3));
  scalar("laminar_queue_depth", "gauge", "Batches queued between sources and sinks.",
         std::to_string(stats.queue_depth));

  if (stats.connectors.empty()) return out;
  std::vector<std::string> labels;
  labels.reserve(stats.connectors.size());
  for (const auto& c : stats.connectors) {
    labels.push_back(pipeline + ",connector=\"" + EscapeLabelValue(c.name) + "\",type=\"" +
                     EscapeLabelValue(c.connector_type) + "\",role=\"" + (c.is_source ? "source" : "sink") + "\"");
  }
  struct Family {
    const char* name;
    const char* help;
    int64_t runtime::ConnectorStats::*field;
  };
  const Family families[] = {
      {"laminar_connector_rows_total", "Rows read (sources) or written (sinks) by a connector.",
       &runtime::ConnectorStats::rows},
      {"laminar_connector_bytes_total", "Bytes read or written by a connector.", &runtime::ConnectorStats::bytes},
      {"laminar_connector_batches_total", "Record batches read or written by a connector.",
       &runtime::ConnectorStats::batches},
      {"laminar_connector_errors_total", "Errors a connector reported, retried ones included.",
       &runtime::ConnectorStats::errors},
  };
  for (const auto& family : families) {
    AppendHeader(out, family.name, "counter", family.help);
    for (size_t i = 0; i < stats.connectors.size(); ++i) {
      AppendSample(out, family.name, labels[i], std::to_string(stats.connectors[i].*family.field));
    }
  }
  // Connector-specific counters, e.g. a decoding source's decoded / skipped /
  // dead_lettered / dlq_dropped.
  bool header = false;
  for (size_t i = 0; i < stats.connectors.size(); ++i) {
    for (const auto& [name, value] : stats.connectors[i].custom) {
      if (!header) {
        AppendHeader(out, "laminar_connector_metric", "gauge", "Connector-specific counters, by name.");
        header = true;
      }
      char number[64];
      std::snprintf(number, sizeof(number), "%.17g", value);
      AppendSample(out, "laminar_connector_metric", labels[i] + ",name=\"" + EscapeLabelValue(name) + "\"", number);
    }
  }
  return out;
}

std::pair<int, std::string> RenderHealth(const runtime::PipelineStats& stats, const std::string& pipeline_name,
                                         int64_t now_unix_ms) {
  const bool healthy = stats.phase != "Failed";
  boost::json::object body;
  body["status"] = healthy ? "ok" : "failing";
  body["pipeline"] = pipeline_name;
  body["phase"] = stats.phase;
  body["epoch"] = stats.epoch;
  if (stats.last_checkpoint_unix_ms > 0) {
    body["last_checkpoint_age_ms"] = std::max<int64_t>(0, now_unix_ms - stats.last_checkpoint_unix_ms);
  } else {
    body["last_checkpoint_age_ms"] = nullptr;
  }
  boost::json::array connectors;
  connectors.reserve(stats.connectors.size());
  for (const auto& c : stats.connectors) {
    boost::json::object entry;
    entry["name"] = c.name;
    entry["role"] = c.is_source ? "source" : "sink";
    entry["type"] = c.connector_type;
    entry["rows"] = c.rows;
    entry["errors"] = c.errors;
    // Free text from the connector, often a library's error message.
    if (!c.health.empty()) entry["health"] = Scrub(c.health);
    connectors.push_back(std::move(entry));
  }
  body["connectors"] = std::move(connectors);
  return {healthy ? 200 : 503, boost::json::serialize(body)};
}

}  // namespace laminar::observe
