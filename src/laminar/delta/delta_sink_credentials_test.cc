// The sink's Open refuses object-store tables whose commits it could not make
// put-if-absent (no credentials the conditional request can be signed with), naming the
// keys to set, unless storage.allow_unsafe_commit accepts a check-then-write. All
// refusals come before any store is contacted, so these tests need no network.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>
#include <string>

#include "laminar/delta/delta_sink.h"

namespace laminar::delta {
namespace {

arrow::Status OpenSink(std::map<std::string, std::string> props) {
  // Credentials from the environment would change what is configured.
  for (const char* variable : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AZURE_STORAGE_ACCOUNT_KEY",
                               "AZURE_STORAGE_SAS_TOKEN", "GOOGLE_APPLICATION_CREDENTIALS",
                               "GOOGLE_SERVICE_ACCOUNT_KEY"}) {
    ::unsetenv(variable);
  }
  ConnectorConfig config("delta-lake", props);
  config.set_instance_name("lake");
  config.set_pipeline_name("test");
  config.set_schema(arrow::schema({arrow::field("id", arrow::int64(), false)}));
  DeltaSink sink;
  return sink.Open(config);
}

void ExpectNames(const arrow::Status& status, std::initializer_list<const char*> keys) {
  ASSERT_FALSE(status.ok());
  for (const char* key : keys) EXPECT_NE(status.message().find(key), std::string::npos) << key << ": " << status.message();
}

TEST(DeltaSinkCommitCredentials, S3WithoutStaticKeysIsRefusedNamingThem) {
  auto status = OpenSink({{"table.path", "s3://bucket/t"}, {"storage.aws_region", "eu-west-1"},
                          {"storage.aws_profile", "prod"}});
  ExpectNames(status, {"'storage.aws_access_key_id'", "'storage.aws_secret_access_key'",
                       "'storage.allow_unsafe_commit'"});
}

TEST(DeltaSinkCommitCredentials, AzureWithOnlyAClientSecretIsRefusedNamingTheKeys) {
  auto status = OpenSink({{"table.path", "abfss://c@acct.dfs.core.windows.net/t"},
                          {"storage.azure_storage_account_name", "acct"},
                          {"storage.azure_storage_client_id", "id"},
                          {"storage.azure_storage_tenant_id", "tenant"},
                          {"storage.azure_storage_client_secret", "hush-hush"}});
  ExpectNames(status, {"'storage.azure_storage_account_key'", "'storage.azure_storage_sas_token'",
                       "'storage.allow_unsafe_commit'"});
  EXPECT_EQ(status.message().find("hush-hush"), std::string::npos);
}

TEST(DeltaSinkCommitCredentials, TheS3UnsafeRenameFlagDoesNotUnlockAzureOrGcs) {
  ExpectNames(OpenSink({{"table.path", "az://c/t"},
                        {"storage.azure_storage_account_name", "acct"},
                        {"storage.aws_s3_allow_unsafe_rename", "true"}}),
              {"'storage.azure_storage_account_key'"});
  ExpectNames(OpenSink({{"table.path", "gs://b/t"}, {"storage.aws_s3_allow_unsafe_rename", "true"}}),
              {"'storage.google_service_account_key'"});
}

TEST(DeltaSinkCommitCredentials, AllowUnsafeCommitIsReadPerProvider) {
  auto parse = [](std::map<std::string, std::string> props) {
    ConnectorConfig config("delta-lake", props);
    return DeltaSinkOptions::FromConfig(config).ValueOrDie().allow_unsafe_commit;
  };
  EXPECT_TRUE(parse({{"table.path", "gs://b/t"}, {"storage.allow_unsafe_commit", "true"}}));
  EXPECT_FALSE(parse({{"table.path", "gs://b/t"}, {"storage.aws_s3_allow_unsafe_rename", "true"}}));
  EXPECT_TRUE(parse({{"table.path", "s3://b/t"}, {"storage.aws_region", "eu-west-1"},
                     {"storage.aws_s3_allow_unsafe_rename", "true"}}));
}

}  // namespace
}  // namespace laminar::delta
