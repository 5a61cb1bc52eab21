#include "laminar/storage/s3_put_if_absent.h"

#include "laminar/storage/http_internal.h"

namespace laminar::storage {

using internal::Option;

arrow::Status CheckS3PutIfAbsentCredentials(const std::map<std::string, std::string>& options) {
  if (!Option(options, "aws_access_key_id").empty() && !Option(options, "aws_secret_access_key").empty()) {
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid(
      "a conditional commit on S3 is signed with static keys only: set 'storage.aws_access_key_id' and "
      "'storage.aws_secret_access_key' (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY); instance roles and profiles "
      "cannot sign it");
}

arrow::Result<bool> S3PutIfAbsent(const std::map<std::string, std::string>& options, const std::string& bucket_and_key,
                                  const std::string& body) {
  ARROW_RETURN_NOT_OK(CheckS3PutIfAbsentCredentials(options));
  const auto slash = bucket_and_key.find('/');
  if (slash == std::string::npos || slash == 0) {
    return arrow::Status::Invalid("S3 path '", bucket_and_key, "' has no bucket/key");
  }
  const std::string bucket = bucket_and_key.substr(0, slash);
  const std::string key = internal::PercentEncode(bucket_and_key.substr(slash + 1), /*keep_slash=*/true);
  const std::string region = Option(options, "aws_region");
  internal::HttpRequest request;
  if (auto endpoint = Option(options, "aws_endpoint"); endpoint.empty()) {
    request.url = "https://" + bucket + ".s3." + region + ".amazonaws.com/" + key;
  } else {
    request.url = internal::NormalizeEndpoint(endpoint) + "/" + bucket + "/" + key;  // path style, as for emulators
  }
  request.method = "PUT";
  request.body = body;
  request.headers = {"If-None-Match: *", "Content-Type: application/json"};
  if (auto token = Option(options, "aws_session_token"); !token.empty()) {
    request.headers.push_back("x-amz-security-token: " + token);
  }
  request.aws_sigv4 = "aws:amz:" + region + ":s3";
  request.userpwd = Option(options, "aws_access_key_id") + ":" + Option(options, "aws_secret_access_key");
  const std::string what = "conditional PUT of s3://" + bucket_and_key;
  ARROW_ASSIGN_OR_RAISE(auto response, internal::Send(request, what));
  if (response.status == 200) return true;
  if (response.status == 412) return false;  // the key exists: another writer took this version
  if (response.status == 409) {
    // ConditionalRequestConflict: a concurrent conditional write to the same key is in
    // flight; treat like a lost race, the caller re-reads and retries.
    return false;
  }
  return arrow::Status::IOError(what, " answered HTTP ", response.status, ": ", response.body.substr(0, 300));
}

}  // namespace laminar::storage
