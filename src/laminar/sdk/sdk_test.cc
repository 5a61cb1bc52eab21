#include <arrow/api.h>
#include <gtest/gtest.h>

#include "laminar/sdk/circuit_breaker.h"
#include "laminar/sdk/rate_limiter.h"
#include "laminar/sdk/resilient_connector.h"
#include "laminar/testing/test_connectors.h"

namespace laminar::sdk {
namespace {

using namespace std::chrono_literals;

TEST(CircuitBreakerTest, OpensAtThresholdAndSuccessResetsCount) {
  ManualClock clock;
  CircuitBreaker breaker({.failure_threshold = 3, .reset_timeout = 1000ms}, &clock);
  breaker.RecordFailure();
  breaker.RecordFailure();
  EXPECT_EQ(breaker.failure_count(), 2);
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.failure_count(), 0);
  breaker.RecordFailure();
  breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  EXPECT_FALSE(breaker.Allow());
}

TEST(CircuitBreakerTest, HalfOpenAfterTimeoutBoundedProbesAndRecovery) {
  ManualClock clock;
  CircuitBreaker breaker({.failure_threshold = 1, .reset_timeout = 1000ms, .half_open_successes_required = 2,
                          .half_open_max_probes = 1},
                         &clock);
  breaker.RecordFailure();
  clock.Advance(999ms);
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  clock.Advance(1ms);
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  EXPECT_FALSE(breaker.Allow());  // one probe at a time
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), CircuitState::kHalfOpen);
  EXPECT_TRUE(breaker.Allow());
  breaker.RecordSuccess();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
}

TEST(CircuitBreakerTest, HalfOpenFailureReopensAndResetCloses) {
  ManualClock clock;
  CircuitBreaker breaker({.failure_threshold = 1, .reset_timeout = 10ms}, &clock);
  breaker.RecordFailure();
  clock.Advance(10ms);
  ASSERT_TRUE(breaker.Allow());
  breaker.RecordFailure();
  EXPECT_EQ(breaker.state(), CircuitState::kOpen);
  CircuitBreaker copy = breaker;  // copies share state
  copy.Reset();
  EXPECT_EQ(breaker.state(), CircuitState::kClosed);
  breaker.RecordFailure();
  auto status = WithCircuitBreaker(copy, [] { return arrow::Status::OK(); });
  EXPECT_NE(status.message().find("circuit breaker"), std::string::npos);
  EXPECT_TRUE(IsRetryable(status));
}

TEST(TokenBucketTest, AdmitsCapacityThenRefills) {
  ManualClock clock;
  TokenBucket bucket(100, 5, &clock);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
  clock.Advance(10ms);
  EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
  EXPECT_EQ(TokenBucket::FromRatePerSecond(1000, &clock).capacity(), 100);
}

TEST(TokenBucketTest, MultiPermitIsAtomicAndBlockingWaits) {
  ManualClock clock;
  TokenBucket bucket(1000, 3, &clock);
  EXPECT_TRUE(bucket.TryAcquire(2));
  EXPECT_FALSE(bucket.TryAcquire(2));  // only 1 left: takes none
  EXPECT_NEAR(bucket.Available(), 1.0, 1e-6);
  bucket.Acquire(3);
  EXPECT_GE(clock.total_advanced(), 2ms);  // waited for 2 more tokens at 1000/s
  TokenBucket copy = bucket;
  EXPECT_NEAR(copy.Available(), bucket.Available(), 1e-9);
}

TEST(LeakyBucketTest, CapsBurstAndDrains) {
  ManualClock clock;
  LeakyBucket bucket(0.001, 3, &clock);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.TryAcquire());
  EXPECT_FALSE(bucket.TryAcquire());
  EXPECT_EQ(bucket.level(), 3);
  clock.Advance(1000s);
  EXPECT_TRUE(bucket.TryAcquire());
  LeakyBucket fast(100, 2, &clock);
  fast.Acquire();
  fast.Acquire();
  const auto before = clock.total_advanced();
  fast.Acquire();
  EXPECT_GE(clock.total_advanced() - before, 5ms);
  EXPECT_FALSE(fast.TryAcquire(3));  // more than capacity never fits at once
}

TEST(NoopRateLimiterTest, AlwaysAdmits) {
  NoopRateLimiter noop;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(noop.TryAcquire(1000));
}

TEST(ResilientSourceTest, RetriesTransientPollErrorsAndAppliesTheLimiter) {
  ManualClock clock;
  auto inner = std::make_unique<testing::SequenceSource>(100, 10);
  inner->FailPollAt(1, arrow::Status::IOError("blip"));
  inner->FailPollAt(2, arrow::Status::IOError("blip again"));
  Resilience resilience;
  resilience.retry = RetryPolicy::Fixed(3, 5ms);
  resilience.clock = &clock;
  resilience.limiter = std::make_shared<TokenBucket>(100, 10, &clock);
  ResilientSource source(std::move(inner), resilience);
  ASSERT_TRUE(source.Open(ConnectorConfig()).ok());
  auto batch = source.PollBatch(10, 10ms);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_TRUE(batch->has_value());
  EXPECT_EQ((*batch)->num_rows(), 10);
  EXPECT_GE(clock.total_advanced(), 10ms);  // two retry sleeps
  auto second = source.PollBatch(10, 10ms);  // bucket empty: waits ~100 ms for 10 permits
  ASSERT_TRUE(second.ok());
  EXPECT_GE(clock.total_advanced(), 100ms);
}

TEST(ResilientSinkTest, BreakerOpensAfterRepeatedFailuresAndReportsUnhealthy) {
  ManualClock clock;
  auto store = std::make_shared<testing::StagingStore>();
  auto inner = std::make_unique<testing::StagingSink>(store);
  for (int i = 1; i <= 10; ++i) inner->FailWriteAt(i, arrow::Status::IOError("down"));
  Resilience resilience;
  resilience.retry = RetryPolicy::Fixed(5, 1ms);
  resilience.clock = &clock;
  resilience.breaker.emplace(CircuitBreakerOptions{.failure_threshold = 3, .reset_timeout = 1000ms}, &clock);
  ResilientSink sink(std::move(inner), resilience);
  ASSERT_TRUE(sink.BeginEpoch(1).ok());
  auto batch = arrow::RecordBatch::Make(arrow::schema({arrow::field("id", arrow::int64())}), 0,
                                        {arrow::MakeArrayOfNull(arrow::int64(), 0).ValueOrDie()});
  auto result = sink.WriteBatch(batch);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("circuit breaker is open"), std::string::npos);
  EXPECT_EQ(sink.Health().state(), HealthStatus::State::kUnhealthy);
}

}  // namespace
}  // namespace laminar::sdk
