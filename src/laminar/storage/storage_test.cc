// Unit tests of the conditional puts' offline parts: the Azure Shared Key signature,
// base64, and which credentials each provider's put-if-absent can sign with.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "laminar/storage/azure_put_if_absent.h"
#include "laminar/storage/http_internal.h"
#include "laminar/storage/put_if_absent.h"

namespace laminar::storage {
namespace {

// Azurite's published development key (not a secret).
constexpr const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

std::map<std::string, std::string> PutBlobHeaders(const std::string& length) {
  return {{"content-length", length},
          {"content-type", "application/json"},
          {"if-none-match", "*"},
          {"x-ms-blob-type", "BlockBlob"},
          {"x-ms-date", "Sun, 11 Oct 2009 21:49:13 GMT"},
          {"x-ms-version", "2021-08-06"}};
}

TEST(AzureSharedKey, StringToSignAndSignatureMatchAnIndependentVector) {
  // Written from the "Authorize with Shared Key" rules (12 standard header lines, sorted
  // x-ms-* headers, "/" + account + URL path; path style repeats the account).
  const std::string expected =
      "PUT\n\n\n11\n\napplication/json\n\n\n\n*\n\n\n"
      "x-ms-blob-type:BlockBlob\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2021-08-06\n"
      "/devstoreaccount1/devstoreaccount1/c/lake/_delta_log/00000000000000000000.json";
  const std::string string_to_sign = AzureSharedKeyStringToSign(
      "PUT", PutBlobHeaders("11"), "devstoreaccount1", "/devstoreaccount1/c/lake/_delta_log/00000000000000000000.json");
  EXPECT_EQ(string_to_sign, expected);
  // Computed apart from this code, with Python:
  //   base64.b64encode(hmac.new(base64.b64decode(kDevKey), expected.encode(), hashlib.sha256).digest())
  auto signature = AzureSharedKeySignature(kDevKey, string_to_sign);
  ASSERT_TRUE(signature.ok()) << signature.status().ToString();
  EXPECT_EQ(*signature, "t79OER9qhwdSPeV/evn6iPQY+3J3uo7r9Hu6QEbkyOM=");
}

TEST(AzureSharedKey, ZeroLengthIsAnEmptyLineAndThePathIsSignedAsSent) {
  const std::string string_to_sign = AzureSharedKeyStringToSign("PUT", PutBlobHeaders("0"), "acct", "/c/a%20b.json");
  EXPECT_EQ(string_to_sign,
            "PUT\n\n\n\n\napplication/json\n\n\n\n*\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Sun, 11 Oct 2009 21:49:13 GMT\nx-ms-version:2021-08-06\n"
            "/acct/c/a%20b.json");
  // Same Python computation as above, over this string.
  EXPECT_EQ(AzureSharedKeySignature(kDevKey, string_to_sign).ValueOrDie(),
            "DPSrcKwzfMAhqfItZulSb0j0hMpuxee7reQamldF05k=");
}

TEST(AzureSharedKey, AKeyThatIsNotBase64IsRefusedWithoutShowingIt) {
  auto signature = AzureSharedKeySignature("not*base64-secret!", "x");
  ASSERT_FALSE(signature.ok());
  EXPECT_TRUE(signature.status().IsInvalid());
  EXPECT_NE(signature.status().message().find("azure_storage_account_key"), std::string::npos);
  EXPECT_EQ(signature.status().message().find("secret"), std::string::npos);
}

TEST(Base64, RoundTripsAndRejectsMalformedText) {
  for (const std::string& bytes : {std::string(""), std::string("a"), std::string("ab"), std::string("abc"),
                                  std::string("\0\xff\x10z", 4)}) {
    const std::string text = internal::Base64Encode(bytes);
    if (bytes.empty()) {
      EXPECT_EQ(text, "");
      continue;
    }
    auto back = internal::Base64Decode(text);
    ASSERT_TRUE(back.has_value()) << text;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_EQ(internal::Base64Encode("ab"), "YWI=");
  EXPECT_EQ(internal::Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(internal::Base64Decode("YWI").has_value());    // length
  EXPECT_FALSE(internal::Base64Decode("Y=I=").has_value());   // padding inside
  EXPECT_FALSE(internal::Base64Decode("YW-_").has_value());   // URL alphabet
}

TEST(PutIfAbsentCredentials, NamesTheKeysEachProviderCanSignWith) {
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kLocal, {}).ok());

  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kS3, {{"aws_access_key_id", "k"}, {"aws_secret_access_key", "s"}})
                  .ok());
  auto profile = CheckPutIfAbsentCredentials(Provider::kS3, {{"aws_profile", "prod"}});
  ASSERT_FALSE(profile.ok());
  EXPECT_NE(profile.message().find("'storage.aws_access_key_id'"), std::string::npos);
  EXPECT_NE(profile.message().find("'storage.aws_secret_access_key'"), std::string::npos);

  const std::map<std::string, std::string> client_secret = {{"azure_storage_account_name", "acct"},
                                                            {"azure_storage_client_id", "id"},
                                                            {"azure_storage_tenant_id", "tenant"},
                                                            {"azure_storage_client_secret", "hush-hush"}};
  auto azure = CheckPutIfAbsentCredentials(Provider::kAzure, client_secret);
  ASSERT_FALSE(azure.ok());
  EXPECT_NE(azure.message().find("'storage.azure_storage_account_key'"), std::string::npos);
  EXPECT_NE(azure.message().find("'storage.azure_storage_sas_token'"), std::string::npos);
  EXPECT_EQ(azure.message().find("hush-hush"), std::string::npos);
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kAzure,
                                          {{"azure_storage_account_name", "acct"}, {"azure_storage_sas_token", "sv=x"}})
                  .ok());
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kAzure,
                                          {{"azure_storage_account_name", "acct"}, {"azure_storage_account_key", kDevKey}})
                  .ok());

  auto gcs_default = CheckPutIfAbsentCredentials(Provider::kGcs, {});
  ASSERT_FALSE(gcs_default.ok());
  EXPECT_NE(gcs_default.message().find("'storage.google_service_account_key'"), std::string::npos);
  EXPECT_NE(gcs_default.message().find("'storage.google_service_account_path'"), std::string::npos);
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kGcs, {{"google_anonymous", "TRUE"}}).ok());
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kGcs, {{"google_endpoint", "http://127.0.0.1:4443"}}).ok());
  EXPECT_TRUE(CheckPutIfAbsentCredentials(Provider::kGcs, {{"google_service_account_path", "/k.json"}}).ok());
}

TEST(PutIfAbsent, MalformedPathsAndCredentialsFailBeforeAnyRequest) {
  const std::map<std::string, std::string> azure = {{"azure_storage_account_name", "acct"},
                                                    {"azure_storage_account_key", kDevKey},
                                                    {"azure_storage_endpoint", "http://127.0.0.1:1"}};
  auto no_blob = PutIfAbsent(Provider::kAzure, azure, "container-only", "{}");
  ASSERT_FALSE(no_blob.ok());
  EXPECT_TRUE(no_blob.status().IsInvalid()) << no_blob.status().ToString();
  auto unsigned_azure = PutIfAbsent(Provider::kAzure, {{"azure_storage_account_name", "acct"}}, "c/b", "{}");
  ASSERT_FALSE(unsigned_azure.ok());
  EXPECT_NE(unsigned_azure.status().message().find("azure_storage_account_key"), std::string::npos);
  EXPECT_TRUE(PutIfAbsent(Provider::kLocal, {}, "/t/x", "{}").status().IsNotImplemented());
}

TEST(PutIfAbsent, AnUnreachableStoreIsAnErrorThatNamesTheObjectButNoSecret) {
  // Port 1 on the loopback refuses the connection at once.
  const std::map<std::string, std::string> azure = {{"azure_storage_account_name", "acct"},
                                                    {"azure_storage_sas_token", "sig=TOPSECRET"},
                                                    {"azure_storage_endpoint", "http://127.0.0.1:1"}};
  auto refused = PutIfAbsent(Provider::kAzure, azure, "c/_delta_log/1.json", "{}");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsIOError());
  EXPECT_NE(refused.status().message().find("c/_delta_log/1.json"), std::string::npos);
  EXPECT_EQ(refused.status().message().find("TOPSECRET"), std::string::npos);
  auto gcs = PutIfAbsent(Provider::kGcs, {{"google_endpoint", "http://127.0.0.1:1"}}, "b/_delta_log/1.json", "{}");
  ASSERT_FALSE(gcs.ok());
  EXPECT_NE(gcs.status().message().find("gs://b/_delta_log/1.json"), std::string::npos);
}

}  // namespace
}  // namespace laminar::storage
