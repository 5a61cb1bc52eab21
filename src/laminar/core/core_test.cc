#include <arrow/api.h>
#include <gtest/gtest.h>

#include "laminar/core/checkpoint.h"
#include "laminar/core/config.h"
#include "laminar/core/connector.h"
#include "laminar/core/health.h"
#include "laminar/core/registry.h"
#include "laminar/core/status.h"
#include "laminar/sdk/retry_policy.h"
#include "laminar/testing/test_connectors.h"

namespace laminar {
namespace {

std::vector<ConfigKeySpec> Specs() {
  return {
      ConfigKeySpec::Required("bootstrap.servers", ConfigType::kString, "brokers"),
      ConfigKeySpec::Optional("batch.size", ConfigType::kInt, "1000", "rows per batch"),
      ConfigKeySpec::Optional("linger.ratio", ConfigType::kDouble, "0.5", "ratio"),
      ConfigKeySpec::Optional("enable.idempotence", ConfigType::kBool, "true", "idempotent producer"),
      ConfigKeySpec::Unset("sasl.password", ConfigType::kString, "password"),
      ConfigKeySpec::Unset("api_key", ConfigType::kString, "key"),
      ConfigKeySpec::Enum("mode", {"append", "upsert"}, "append", "write mode"),
      ConfigKeySpec::Unset("fields.*.kind", ConfigType::kString, "per column"),
  };
}

ConnectorConfig Config(std::map<std::string, std::string> props) {
  ConnectorConfig config("kafka", std::move(props));
  config.set_instance_name("orders");
  return config;
}

TEST(ConfigTest, ValidateFillsDefaultsAndAcceptsGoodValues) {
  auto config = Config({{"bootstrap.servers", "localhost:9092"}, {"batch.size", "+20"}, {"fields.id.kind", "x"}});
  ASSERT_TRUE(config.Validate(Specs()).ok());
  EXPECT_EQ(config.Get("linger.ratio"), "0.5");
  EXPECT_EQ(config.Get("mode"), "append");
  EXPECT_FALSE(config.Has("sasl.password"));
  EXPECT_EQ(*config.GetInt64("batch.size", 0), 20);
  EXPECT_TRUE(*config.GetBool("enable.idempotence", false));
}

struct BadCase {
  std::map<std::string, std::string> props;
  std::string fragment;
};

TEST(ConfigTest, EveryValidationErrorNamesKeyAndConnector) {
  const std::vector<BadCase> cases = {
      {{}, "missing required option 'bootstrap.servers'"},
      {{{"bootstrap.servers", "x"}, {"batch.sise", "1"}}, "unknown option 'batch.sise'"},
      {{{"bootstrap.servers", "x"}, {"batch.size", "10k"}}, "option 'batch.size' = '10k' is not a valid integer"},
      {{{"bootstrap.servers", "x"}, {"batch.size", " 10"}}, "option 'batch.size'"},
      {{{"bootstrap.servers", "x"}, {"batch.size", ""}}, "option 'batch.size'"},
      {{{"bootstrap.servers", "x"}, {"batch.size", "99999999999999999999"}}, "option 'batch.size'"},
      {{{"bootstrap.servers", "x"}, {"linger.ratio", "0.5x"}}, "option 'linger.ratio' = '0.5x' is not a valid number"},
      {{{"bootstrap.servers", "x"}, {"linger.ratio", "nan"}}, "option 'linger.ratio'"},
      {{{"bootstrap.servers", "x"}, {"enable.idempotence", "yes"}}, "option 'enable.idempotence' = 'yes'"},
      {{{"bootstrap.servers", "x"}, {"enable.idempotence", "True"}}, "option 'enable.idempotence'"},
      {{{"bootstrap.servers", "x"}, {"mode", "merge"}}, "expected one of: append, upsert"},
      {{{"bootstrap.servers", "x"}, {"fields..kind", "x"}}, "unknown option 'fields..kind'"},
  };
  for (const auto& c : cases) {
    auto config = Config(c.props);
    auto status = config.Validate(Specs());
    ASSERT_FALSE(status.ok()) << c.fragment;
    EXPECT_EQ(KindOf(status), ErrorKind::kConfig);
    EXPECT_NE(status.message().find(c.fragment), std::string::npos) << status.message();
    EXPECT_NE(status.message().find("'orders' (kafka)"), std::string::npos) << status.message();
  }
}

TEST(ConfigTest, SecretsNeverAppearInErrorsOrDisplay) {
  for (const std::string key : {"sasl.password", "api_key"}) {
    auto config = Config({{"bootstrap.servers", "x"}, {key, "hunter2"}, {"batch.size", "hunter2"}});
    auto status = config.Validate(Specs());
    ASSERT_FALSE(status.ok());
    EXPECT_NE(status.message().find("hunter2"), std::string::npos);  // batch.size is not secret
    auto secret_bad = Config({{"bootstrap.servers", "x"}, {key, "hunter2"}});
    EXPECT_EQ(secret_bad.DisplayRedacted().find("hunter2"), std::string::npos);
    EXPECT_NE(secret_bad.DisplayRedacted().find(key + "=***"), std::string::npos);
  }
  ConnectorConfig typed("s3", {{"aws_secret_access_key", "abc"}, {"aws_access_key_id", "AKIA"},
                               {"aws_region", "us-east-1"}, {"sas_token", "zzz"}, {"token", "ttt"}});
  const std::string shown = typed.DisplayRedacted();
  EXPECT_NE(shown.find("aws_region=us-east-1"), std::string::npos);
  EXPECT_NE(shown.find("aws_secret_access_key=***"), std::string::npos);
  EXPECT_NE(shown.find("aws_access_key_id=AKIA"), std::string::npos);
  EXPECT_EQ(shown.find("abc"), std::string::npos);
  EXPECT_EQ(shown.find("zzz"), std::string::npos);
  EXPECT_EQ(shown.find("ttt"), std::string::npos);
  // A malformed secret value is reported without echoing it.
  ConnectorConfig bad_secret("x", {{"client_secret", "s3cr3t"}});
  std::vector<ConfigKeySpec> specs = {ConfigKeySpec::Unset("client_secret", ConfigType::kInt, "")};
  auto status = bad_secret.Validate(specs);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message().find("s3cr3t"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("client_secret"), std::string::npos);
}

TEST(ConfigTest, StrictParsers) {
  EXPECT_EQ(*ParseInt64("-42"), -42);
  EXPECT_FALSE(ParseInt64("4 2").ok());
  EXPECT_FALSE(ParseInt64("0x10").ok());
  EXPECT_FALSE(ParseUInt64("-1").ok());
  EXPECT_EQ(*ParseDouble("1e3"), 1000.0);
  EXPECT_FALSE(ParseDouble("1,5").ok());
  EXPECT_FALSE(ParseBool("TRUE").ok());
  EXPECT_FALSE(ParseBool("1").ok());
}

TEST(ConfigTest, PrefixExtraction) {
  auto config = Config({{"kafka.group.id", "g"}, {"kafka.acks", "all"}, {"kafkax", "no"}, {"topic", "t"}});
  auto sub = config.PropertiesWithPrefix("kafka.");
  EXPECT_EQ(sub, (std::map<std::string, std::string>{{"group.id", "g"}, {"acks", "all"}}));
}

TEST(CheckpointTest, JsonRoundTrip) {
  SourceCheckpoint checkpoint(7);
  checkpoint.SetOffset("partition-0", "1234");
  checkpoint.SetOffset("partition-1", "5678");
  checkpoint.SetMetadata("topic", "trades");
  checkpoint.SetOffset("lsn", "0/ABCDEF");
  auto back = SourceCheckpoint::FromJson(checkpoint.ToJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, checkpoint);
  EXPECT_TRUE(SourceCheckpoint(1).empty());
  EXPECT_FALSE(SourceCheckpoint::FromJson("{\"epoch\": -1, \"offsets\": {}}").ok());
  EXPECT_FALSE(SourceCheckpoint::FromJson("{\"epoch\": 1, \"offsets\": {\"a\": 5}}").ok());
  EXPECT_FALSE(SourceCheckpoint::FromJson("not json").ok());
}

TEST(StatusTest, KindsAndRetryability) {
  EXPECT_TRUE(IsRetryable(TransientError("librdkafka", "broker down", -195)));
  EXPECT_FALSE(IsRetryable(FatalError("libpq", "bad password")));
  EXPECT_FALSE(IsRetryable(ConfigError("source 'x'", "bad")));
  EXPECT_EQ(KindOf(NeedsAbortError("librdkafka", "abort")), ErrorKind::kNeedsAbort);
  EXPECT_TRUE(IsRetryable(arrow::Status::IOError("plain io")));
  EXPECT_FALSE(IsRetryable(arrow::Status::Invalid("plain invalid")));
  auto status = TransientError("librdkafka", "timed out", 7);
  EXPECT_NE(status.ToString().find("transient error from librdkafka (code 7)"), std::string::npos);
  EXPECT_EQ(KindOf(ErrnoError(ETIMEDOUT, "connect")), ErrorKind::kTransient);
  EXPECT_EQ(KindOf(ErrnoError(ENOSPC, "write")), ErrorKind::kFatal);
}

TEST(HealthTest, Predicates) {
  EXPECT_TRUE(HealthStatus::Healthy().is_healthy());
  EXPECT_TRUE(HealthStatus::Degraded("slow").is_operational());
  EXPECT_FALSE(HealthStatus::Degraded("slow").is_healthy());
  EXPECT_FALSE(HealthStatus::Unhealthy("down").is_operational());
  EXPECT_EQ(HealthStatus::Unhealthy("down").ToString(), "Unhealthy: down");
  EXPECT_EQ(HealthStatus().ToString(), "Unknown");
}

TEST(ConnectorTypesTest, PartitionBatchCapabilities) {
  EXPECT_EQ((PartitionInfo{"3", "42"}).ToString(), "3@42");
  auto caps = SinkCapabilities().WithExactlyOnce().WithUpsert();
  EXPECT_TRUE(caps.exactly_once);
  EXPECT_TRUE(caps.upsert);
  EXPECT_FALSE(caps.idempotent || caps.changelog || caps.two_phase_commit || caps.schema_evolution ||
               caps.partitioned);
  SourceBatch empty;
  EXPECT_EQ(empty.num_rows(), 0);
}

TEST(RegistryTest, CanonicalNamesCreationAndUnknownTypes) {
  ConnectorRegistry registry;
  registry.RegisterSource(ConnectorInfo{"SEQ_SOURCE", "test", {}},
                          [] { return std::make_unique<testing::SequenceSource>(10, 5); });
  EXPECT_EQ(registry.ListSources(), std::vector<std::string>{"seq-source"});
  EXPECT_NE(registry.SourceInfo("Seq_Source"), nullptr);
  EXPECT_EQ(registry.SinkInfo("seq-source"), nullptr);  // separate namespaces
  ConnectorConfig config("seq_source", {});
  EXPECT_TRUE(registry.CreateSource(config).ok());
  ConnectorConfig unknown("kafak", {});
  auto status = registry.CreateSource(unknown).status();
  EXPECT_NE(status.message().find("unknown source connector type 'kafak'"), std::string::npos);
  EXPECT_NE(status.message().find("seq-source"), std::string::npos);
  EXPECT_NE(registry.CreateSink(unknown).status().message().find("unknown sink connector type"), std::string::npos);
}

TEST(RetryPolicyTest, BackoffScheduleAndJitter) {
  auto policy = sdk::RetryPolicy::Exponential(5, std::chrono::milliseconds(100));
  policy.jitter = 0;
  std::vector<int64_t> delays;
  for (int k = 0; k <= 4; ++k) delays.push_back(policy.DelayForAttempt(k, 0.5).count());
  EXPECT_EQ(delays, (std::vector<int64_t>{0, 100, 200, 400, 800}));
  auto capped = sdk::RetryPolicy::Exponential(10, std::chrono::seconds(1));
  capped.max_backoff = std::chrono::seconds(5);
  capped.jitter = 0;
  EXPECT_EQ(capped.DelayForAttempt(10, 0.5).count(), 5000);
  auto fixed = sdk::RetryPolicy::Fixed(5, std::chrono::seconds(1));
  EXPECT_EQ(fixed.DelayForAttempt(1, 0.9).count(), 1000);
  EXPECT_EQ(fixed.DelayForAttempt(5, 0.1).count(), 1000);
  auto jittered = sdk::RetryPolicy::Exponential(3, std::chrono::milliseconds(100));  // jitter 0.1
  EXPECT_EQ(jittered.DelayForAttempt(1, 0.0).count(), 90);
  EXPECT_EQ(jittered.DelayForAttempt(1, 0.5).count(), 100);
  EXPECT_EQ(jittered.DelayForAttempt(1, 0.999999).count(), 110);
}

TEST(RetryPolicyTest, RetriesOnlyRetryableErrors) {
  std::vector<std::chrono::milliseconds> slept;
  auto sleep = [&](std::chrono::milliseconds d) { slept.push_back(d); };
  auto random = [] { return 0.5; };
  int calls = 0;
  auto flaky = [&] { return ++calls < 3 ? arrow::Status::IOError("blip") : arrow::Status::OK(); };
  EXPECT_TRUE(sdk::WithRetry(sdk::RetryPolicy::Exponential(3, std::chrono::milliseconds(10)), flaky, {}, sleep, random).ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(slept.size(), 2u);
  calls = 0;
  auto always = [&] { ++calls; return arrow::Status::IOError("down"); };
  EXPECT_FALSE(sdk::WithRetry(sdk::RetryPolicy::Exponential(2, std::chrono::milliseconds(1)), always, {}, sleep, random).ok());
  EXPECT_EQ(calls, 3);
  calls = 0;
  auto fatal = [&] { ++calls; return arrow::Status::Invalid("bad"); };
  EXPECT_FALSE(sdk::WithRetry(sdk::RetryPolicy::Exponential(5, std::chrono::milliseconds(1)), fatal, {}, sleep, random).ok());
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_FALSE(sdk::WithRetry(sdk::RetryPolicy::None(), always, {}, sleep, random).ok());
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace laminar
