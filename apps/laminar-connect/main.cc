// laminar-connect: runs the connectors a DDL file declares, with exactly-once checkpoints.
// Exit codes: 0 clean stop, 1 runtime failure, 2 bad input (DDL or config).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#ifdef LAMINAR_WITH_DELTA_LAKE
#include "laminar/storage/storage_options.h"
#endif
#include "laminar/builtin_connectors.h"
#include "laminar/core/secrets.h"
#include "laminar/ddl/ddl.h"
#include "laminar/ddl/types.h"
#include "laminar/observe/metrics_server.h"
#include "laminar/observe/status_line.h"
#include "pipeline_builder.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitBadInput = 2;

std::atomic<bool> g_stop{false};
std::atomic<int> g_signals{0};  // lock-free, so safe in a signal handler

void OnSignal(int) {
  // First signal: stop admitting data, final checkpoint. Second: leave now; recovery
  // covers whatever was in flight.
  if (g_signals.fetch_add(1) + 1 >= 2) _exit(130);
  g_stop.store(true);
}

void InstallSignalHandlers() {
  struct sigaction action {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int ExitCodeFor(const arrow::Status& status) {
  return laminar::KindOf(status) == laminar::ErrorKind::kConfig ? kExitBadInput : kExitRuntime;
}

int Fail(const arrow::Status& status) {
  std::fprintf(stderr, "laminar-connect: error: %s\n", laminar::Scrub(status.message()).c_str());
  return ExitCodeFor(status);
}

std::string PipelineNameOf(const std::string& file) { return std::filesystem::path(file).stem().string(); }

void PrintConnectors(const laminar::ConnectorRegistry& registry) {
  auto print = [](const char* role, const laminar::ConnectorInfo& info) {
    std::printf("%s %s\n  %s\n", role, info.name.c_str(), info.description.c_str());
    for (const auto& key : info.config_keys) {
      std::string flags = laminar::ConfigTypeName(key.type);
      if (key.type == laminar::ConfigType::kEnum) {
        flags += " ";
        for (size_t i = 0; i < key.allowed_values.size(); ++i) flags += (i ? "|" : "") + key.allowed_values[i];
      }
      if (key.required) flags += ", required";
      if (key.default_value) flags += ", default " + (key.default_value->empty() ? "''" : *key.default_value);
      if (key.secret) flags += ", secret";
      std::printf("    %-34s %s\n    %-34s   %s\n", key.key.c_str(), flags.c_str(), "", key.description.c_str());
    }
    std::printf("\n");
  };
  for (const auto& name : registry.ListSources()) print("source", *registry.SourceInfo(name));
  for (const auto& name : registry.ListSinks()) print("sink", *registry.SinkInfo(name));
}

}  // namespace

int RunMain(int argc, char** argv) {
  CLI::App app{"laminar-connect: moves data between external systems with exactly-once delivery"};
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  std::string file;
  std::string checkpoint_dir;
  int64_t checkpoint_interval_ms = 10000;
  int metrics_port = -1;
  std::string metrics_host = "127.0.0.1";
  bool no_status = false;
  auto* run = app.add_subcommand("run", "Run the pipeline a DDL file declares until its sources end or a signal");
  run->add_option("file", file, "DDL file with CREATE SOURCE / CREATE SINK statements")->required();
  run->add_option("--checkpoint-dir", checkpoint_dir, "Where checkpoint manifests live (default ./checkpoints/<file name>)");
  run->add_option("--checkpoint-interval", checkpoint_interval_ms, "Milliseconds between checkpoints")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  run->add_option("--metrics-port", metrics_port, "Serve Prometheus /metrics and /health on this port (0 = any)");
  run->add_option("--metrics-host", metrics_host, "Address for --metrics-port")->capture_default_str();
  run->add_flag("--no-status", no_status, "No live status line on a terminal");

  auto* validate = app.add_subcommand("validate", "Parse a DDL file and check every connector's options");
  validate->add_option("file", file, "DDL file")->required();

  auto* connectors = app.add_subcommand("connectors", "List every connector with its options");
  const std::string types_footer = "\nColumn types of CREATE SOURCE and their Arrow types:\n" + laminar::ddl::DescribeSqlTypes();
  run->footer(types_footer);
  validate->footer(types_footer);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }

  // Every log line passes the secret scrubber: libraries echo credentials in their errors.
  laminar::RegisterSecretsFromEnvironment();
  auto logger = std::make_shared<spdlog::logger>(
      "laminar", laminar::MakeScrubbingSink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  laminar::ConnectorRegistry registry;
  laminar::RegisterBuiltinConnectors(registry);

  if (*connectors) {
    PrintConnectors(registry);
    return kExitOk;
  }

  auto script = laminar::ddl::ParseFile(file);
  if (!script.ok()) return Fail(script.status());

  laminar::cli::BuildOptions options;
  options.pipeline_name = PipelineNameOf(file);
  if (*validate) {
    options.validate_only = true;
    auto built = laminar::cli::BuildPipeline(*script, registry, options);
    if (!built.ok()) return Fail(built.status());
    std::printf("%s: ok (%zu sources, %zu sinks)\n", file.c_str(), script->sources.size(), script->sinks.size());
    return kExitOk;
  }

  options.checkpoint_dir = checkpoint_dir.empty() ? "checkpoints/" + options.pipeline_name : checkpoint_dir;
  options.pipeline.checkpoint_interval = std::chrono::milliseconds(checkpoint_interval_ms);
  InstallSignalHandlers();
  auto built = laminar::cli::BuildPipeline(*script, registry, options);
  if (!built.ok()) return Fail(built.status());
  auto pipeline = std::move(*built);

  std::unique_ptr<laminar::observe::MetricsServer> metrics;
  if (metrics_port >= 0) {
    auto started = laminar::observe::MetricsServer::Start(
        metrics_host, static_cast<uint16_t>(metrics_port),
        [&] { return laminar::observe::RenderPrometheus(pipeline->Stats(), options.pipeline_name); },
        [&] {
          const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
          return laminar::observe::RenderHealth(pipeline->Stats(), options.pipeline_name, now_ms);
        });
    if (!started.ok()) return Fail(started.status());
    metrics = std::move(*started);
    spdlog::info("metrics on http://{}:{}/metrics", metrics_host, metrics->port());
  }
  laminar::observe::StatusLine status_line([&] { return pipeline->Stats(); }, isatty(STDERR_FILENO) != 0);
  if (!no_status) status_line.Start();
  spdlog::info("running {} (checkpoints in {}, every {} ms)", file, options.checkpoint_dir, checkpoint_interval_ms);
  arrow::Status result = pipeline->Run(g_stop);
  status_line.Stop();
  auto stats = pipeline->Stats();
  if (!result.ok()) {
    spdlog::error("pipeline failed at epoch {}: {}", stats.epoch, result.message());
    return ExitCodeFor(result) == kExitBadInput ? kExitBadInput : kExitRuntime;
  }
  spdlog::info("stopped cleanly: {} rows in, {} rows out, {} checkpoints, last committed epoch {}", stats.rows_in,
               stats.rows_out, stats.checkpoints_completed, stats.epoch - 1);
  return kExitOk;
}

int main(int argc, char** argv) {
  const int code = RunMain(argc, argv);
  // After every connector is gone: the AWS SDK must shut down before static destruction.
#ifdef LAMINAR_WITH_DELTA_LAKE
  laminar::storage::FinalizeCloudStorage();
#endif
  return code;
}
