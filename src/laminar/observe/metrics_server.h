// Prometheus /metrics and JSON /health over HTTP/1.1 for a running pipeline. The server
// owns one io_context thread; the render functions are pure and may be called from any thread.
#pragma once

#include <arrow/result.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "laminar/runtime/pipeline.h"

namespace laminar::observe {

class MetricsServer {
 public:
  // Binds host:port (port 0 = the OS picks a free one) and starts serving on a thread of
  // its own: GET /metrics answers 200 text/plain; version=0.0.4 with metrics_text(), GET
  // /health answers {status code, body} from health_json() as application/json. Other
  // paths get 404, other methods 405, unparsable requests 400, a throwing callback 500.
  // One request per connection (Connection: close); a client that does not send a full
  // request within a few seconds is dropped. The callbacks run on the server thread, one
  // at a time, and must not block for long: the destructor waits for a running one.
  // Fails with a config error naming --metrics-port when the host does not resolve or
  // the address is in use.
  static arrow::Result<std::unique_ptr<MetricsServer>> Start(
      const std::string& host, uint16_t port, std::function<std::string()> metrics_text,
      std::function<std::pair<int, std::string>()> health_json);

  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  // Stops the thread and closes the listening and any open client sockets.
  ~MetricsServer();

  // The bound port (the chosen one when Start was given 0).
  uint16_t port() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Prometheus text exposition (format 0.0.4) of a stats snapshot: pipeline-wide counters
// and gauges labelled pipeline="...", and per connector laminar_connector_{rows,bytes,
// batches,errors}_total labelled connector, type and role ("source" or "sink").
std::string RenderPrometheus(const runtime::PipelineStats& stats, const std::string& pipeline_name);

// The /health answer: 200 with "status":"ok" unless the phase is "Failed", then 503 with
// "status":"failing". last_checkpoint_age_ms is null before the first checkpoint.
std::pair<int, std::string> RenderHealth(const runtime::PipelineStats& stats, const std::string& pipeline_name,
                                         int64_t now_unix_ms);

}  // namespace laminar::observe
