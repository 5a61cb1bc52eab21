#include "laminar/storage/gcs_put_if_absent.h"

#include <arrow/buffer.h>
#include <arrow/io/file.h>

#include <algorithm>
#include <cctype>

#include "laminar/storage/gcs_access_token.h"
#include "laminar/storage/http_internal.h"

namespace laminar::storage {

namespace {

using internal::Option;

bool IsTrue(std::string value) {
  std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
  return value == "true";
}

// The key JSON, from google_service_account_key or the file google_service_account_path
// names; "" for anonymous access.
arrow::Result<std::string> ServiceAccountKey(const std::map<std::string, std::string>& options) {
  if (auto key = Option(options, "google_service_account_key"); !key.empty()) return key;
  const std::string path = Option(options, "google_service_account_path");
  if (path.empty()) return std::string();
  auto file = arrow::io::ReadableFile::Open(path);
  if (!file.ok()) return arrow::Status::IOError("cannot open the GCS service account key '", path, "'");
  ARROW_ASSIGN_OR_RAISE(auto size, (*file)->GetSize());
  ARROW_ASSIGN_OR_RAISE(auto bytes, (*file)->Read(size));
  return bytes->ToString();
}

// An emulator on this machine (fake-gcs-server) takes anonymous writes; any other endpoint
// is a real service, where anonymous access has to be asked for explicitly.
bool IsLoopbackEndpoint(std::string endpoint) {
  if (auto scheme = endpoint.find("://"); scheme != std::string::npos) endpoint = endpoint.substr(scheme + 3);
  std::string host;
  if (!endpoint.empty() && endpoint[0] == '[') {
    host = endpoint.substr(1, endpoint.find(']') - 1);
  } else {
    host = endpoint.substr(0, endpoint.find_first_of(":/"));
  }
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

arrow::Status CheckGcsPutIfAbsentCredentials(const std::map<std::string, std::string>& options) {
  if (!Option(options, "google_service_account_key").empty() || !Option(options, "google_service_account_path").empty() ||
      IsTrue(Option(options, "google_anonymous")) || IsLoopbackEndpoint(Option(options, "google_endpoint"))) {
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid(
      "a conditional commit on GCS needs a service account key: set 'storage.google_service_account_key' or "
      "'storage.google_service_account_path' (GOOGLE_APPLICATION_CREDENTIALS), or 'storage.google_anonymous' = "
      "'true' for a bucket that takes anonymous writes; default credentials (metadata server, gcloud login) "
      "cannot sign it");
}

arrow::Result<bool> GcsPutIfAbsent(const std::map<std::string, std::string>& options,
                                   const std::string& bucket_and_object, const std::string& body) {
  ARROW_RETURN_NOT_OK(CheckGcsPutIfAbsentCredentials(options));
  const auto slash = bucket_and_object.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == bucket_and_object.size()) {
    return arrow::Status::Invalid("GCS path '", bucket_and_object, "' has no bucket/object");
  }
  const std::string what = "conditional upload of gs://" + bucket_and_object;
  std::string endpoint = Option(options, "google_endpoint");
  endpoint = endpoint.empty() ? "https://storage.googleapis.com" : internal::NormalizeEndpoint(endpoint);
  internal::HttpRequest request;
  request.method = "POST";
  request.url = endpoint + "/upload/storage/v1/b/" + internal::PercentEncode(bucket_and_object.substr(0, slash), false) +
                "/o?uploadType=media&name=" + internal::PercentEncode(bucket_and_object.substr(slash + 1), false) +
                "&ifGenerationMatch=0";
  request.body = body;
  request.headers = {"Content-Type: application/json"};
  // Anonymous only when asked for, or against an emulator without credentials.
  ARROW_ASSIGN_OR_RAISE(auto key, ServiceAccountKey(options));
  if (!key.empty()) {
    ARROW_ASSIGN_OR_RAISE(auto token, GcsServiceAccountToken(key));
    request.headers.push_back("Authorization: Bearer " + token);
  }
  ARROW_ASSIGN_OR_RAISE(auto response, internal::Send(request, what));
  if (response.status == 200) return true;
  if (response.status == 412) return false;  // a live generation exists: another writer took this version
  return arrow::Status::IOError(what, " answered HTTP ", response.status, ": ", response.body.substr(0, 300));
}

}  // namespace laminar::storage
