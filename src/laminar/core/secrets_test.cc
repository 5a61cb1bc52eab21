// The secret registry and Scrub. The registry is process-wide and never forgets, so each
// test uses values no other test registers.
#include "laminar/core/secrets.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <sstream>
#include <thread>
#include <vector>

#include "laminar/core/config.h"
#include "laminar/core/status.h"

namespace laminar {
namespace {

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(SecretsTest, MasksTheValueAndLeavesTheRestAlone) {
  EXPECT_EQ(Scrub("login with hunter2-abc failed"), "login with hunter2-abc failed") << "nothing registered yet";
  RegisterSecret("hunter2-abc");
  EXPECT_EQ(Scrub("login with hunter2-abc failed; hunter2-abc again"), "login with *** failed; *** again");
  EXPECT_EQ(Scrub("hunter2-ab is only a prefix"), "hunter2-ab is only a prefix");
}

TEST(SecretsTest, MasksThePercentEncodedAndDecodedForms) {
  RegisterSecret("p@ss/w rd+1");
  EXPECT_EQ(Scrub("url ?pw=p%40ss%2Fw%20rd%2B1&x=1"), "url ?pw=***&x=1");
  EXPECT_EQ(Scrub("url ?pw=p%40ss%2fw%20rd%2b1&x=1"), "url ?pw=***&x=1") << "lower-case hex";

  RegisterSecret("Zm9v%2Bbar%3D");  // given encoded; a library may print it decoded
  EXPECT_EQ(Scrub("key Zm9v+bar= used"), "key *** used");
  EXPECT_EQ(Scrub("key Zm9v%252Bbar%253D used"), "key *** used") << "encoded once more";
}

TEST(SecretsTest, MasksTheSignatureOfASasTokenOnItsOwn) {
  RegisterSecret("?sv=2021-08-06&ss=b&sp=rwdlac&se=2030-01-01&sig=SuperSecretSig123%3D");
  // Arrow's Azure errors show the request URL: the parameters re-ordered, re-encoded, or
  // the signature decoded.
  const std::string url = "https://acct.blob.core.windows.net/c/x?comp=list&sig=SuperSecretSig123%3D&sv=2021-08-06";
  const std::string scrubbed = Scrub(url);
  EXPECT_FALSE(Contains(scrubbed, "SuperSecretSig123")) << scrubbed;
  EXPECT_TRUE(Contains(scrubbed, "https://acct.blob.core.windows.net/c/x?comp=list&sig=***&sv=2021-08-06")) << scrubbed;
  EXPECT_EQ(Scrub("signature SuperSecretSig123= rejected"), "signature *** rejected");
  EXPECT_EQ(Scrub("signature SuperSecretSig123%253D rejected"), "signature *** rejected");
  // The whole token is one *** (its sig inside it leaves no tail), the other parameters
  // are not secrets.
  EXPECT_EQ(Scrub("token sv=2021-08-06&ss=b&sp=rwdlac&se=2030-01-01&sig=SuperSecretSig123%3D end"), "token *** end");
  EXPECT_EQ(Scrub("version sv=2021-08-06 perms sp=rwdlac"), "version sv=2021-08-06 perms sp=rwdlac");
}

TEST(SecretsTest, IgnoresShortValues) {
  RegisterSecret("");
  RegisterSecret("abc");
  RegisterSecret("sig=xyz&a=1");  // the whole is long enough, its sig "xyz" is not
  EXPECT_EQ(Scrub("abc xyz a=1"), "abc xyz a=1");
  EXPECT_EQ(Scrub("sig=xyz&a=1"), "***");
}

TEST(SecretsTest, OverlappingSecretsLeaveNoPieceBehind) {
  RegisterSecret("alpha-beta");
  RegisterSecret("beta-gamma");
  EXPECT_EQ(Scrub("[alpha-beta-gamma]"), "[***]");
}

TEST(SecretsTest, ScrubStatusKeepsCodeAndDetail) {
  RegisterSecret("status-s3cret");
  const arrow::Status original = TransientError("azure", "GET ?sig=status-s3cret failed: connection refused");
  const arrow::Status scrubbed = ScrubStatus(original);
  EXPECT_EQ(scrubbed.code(), original.code());
  EXPECT_EQ(KindOf(scrubbed), ErrorKind::kTransient);
  EXPECT_EQ(scrubbed.message(), "GET ?sig=*** failed: connection refused");
  EXPECT_TRUE(ScrubStatus(arrow::Status::OK()).ok());
}

TEST(SecretsTest, ValidateRegistersSecretOptions) {
  ConnectorConfig config("test", {{"storage.azure_storage_sas_token", "sv=1&sig=validate-sig-1"},
                                  {"hidden", "declared-secret-1"},
                                  {"plain", "not-a-secret-1"}});
  const std::vector<ConfigKeySpec> specs = {
      ConfigKeySpec::Unset("storage.*", ConfigType::kString, "storage"),
      ConfigKeySpec::Unset("hidden", ConfigType::kString, "a secret whose name does not say so").Secret(),
      ConfigKeySpec::Unset("plain", ConfigType::kString, "plain"),
  };
  ASSERT_TRUE(config.Validate(specs).ok());
  EXPECT_EQ(Scrub("validate-sig-1 declared-secret-1 not-a-secret-1"), "*** *** not-a-secret-1");
}

TEST(SecretsTest, RegistersSecretNamedEnvironmentVariables) {
  ::setenv("LAMINAR_TEST_CLIENT_SECRET", "env-s3cret-value", 1);
  ::setenv("LAMINAR_TEST_PLAIN", "env-plain-value", 1);
  RegisterSecretsFromEnvironment();
  EXPECT_EQ(Scrub("env-s3cret-value env-plain-value"), "*** env-plain-value");
}

TEST(SecretsTest, LogSinkScrubsEveryLine) {
  RegisterSecret("log-s3cret-value");
  std::ostringstream out;
  auto logger = std::make_shared<spdlog::logger>(
      "secrets_test", MakeScrubbingSink(std::make_shared<spdlog::sinks::ostream_sink_mt>(out)));
  logger->set_pattern("%l %v");
  logger->warn("request ?sig={} failed", "log-s3cret-value");
  logger->flush();
  EXPECT_EQ(out.str(), "warning request ?sig=*** failed\n");
}

TEST(SecretsTest, ConcurrentRegisterAndScrub) {
  // Smoke test for the locking (run under TSan to make it a proof): writers register while
  // readers scrub; every value registered before a scrub starts is masked by it.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) {
        const std::string value = "concurrent-" + std::to_string(t) + "-" + std::to_string(i);
        RegisterSecret(value);
        const std::string scrubbed = Scrub("x " + value + " y");
        ASSERT_EQ(scrubbed, "x *** y");
      }
    });
  }
  for (auto& thread : threads) thread.join();
}

}  // namespace
}  // namespace laminar
