#include "laminar/storage/s3_put_if_absent.h"

#include <curl/curl.h>

#include <memory>

namespace laminar::storage {

namespace {

std::string Option(const std::map<std::string, std::string>& options, const std::string& key) {
  auto it = options.find(key);
  return it == options.end() ? "" : it->second;
}

size_t Collect(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

// RFC 3986 unreserved characters and '/' stay; everything else is percent-encoded.
std::string EncodeKey(const std::string& key) {
  std::string out;
  for (unsigned char c : key) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace

arrow::Result<bool> S3PutIfAbsent(const std::map<std::string, std::string>& options, const std::string& bucket_and_key,
                                  const std::string& body) {
  const auto slash = bucket_and_key.find('/');
  if (slash == std::string::npos || slash == 0) {
    return arrow::Status::Invalid("S3 path '", bucket_and_key, "' has no bucket/key");
  }
  const std::string bucket = bucket_and_key.substr(0, slash);
  const std::string key = bucket_and_key.substr(slash + 1);
  const std::string region = Option(options, "aws_region");
  std::string endpoint = Option(options, "aws_endpoint");
  std::string url;
  if (endpoint.empty()) {
    url = "https://" + bucket + ".s3." + region + ".amazonaws.com/" + EncodeKey(key);
  } else {
    if (endpoint.find("://") == std::string::npos) endpoint = "https://" + endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    url = endpoint + "/" + bucket + "/" + EncodeKey(key);  // path style, as for emulators
  }
  static const bool initialised = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  if (!initialised) return arrow::Status::IOError("libcurl could not be initialised");
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return arrow::Status::IOError("libcurl: no handle");
  struct curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "If-None-Match: *");
  headers = curl_slist_append(headers, "Content-Type: application/json");
  const std::string token = Option(options, "aws_session_token");
  if (!token.empty()) headers = curl_slist_append(headers, ("x-amz-security-token: " + token).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_guard(headers, curl_slist_free_all);
  const std::string sigv4 = "aws:amz:" + region + ":s3";
  const std::string user = Option(options, "aws_access_key_id") + ":" + Option(options, "aws_secret_access_key");
  std::string response;
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERPWD, user.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    return arrow::Status::IOError("conditional PUT of s3://", bucket_and_key, " failed: ", curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status == 200) return true;
  if (status == 412) return false;  // the key exists: another writer took this version
  if (status == 409) {
    // ConditionalRequestConflict: a concurrent conditional write to the same key is in
    // flight; treat like a lost race, the caller re-reads and retries.
    return false;
  }
  return arrow::Status::IOError("conditional PUT of s3://", bucket_and_key, " answered HTTP ", status, ": ",
                                response.substr(0, 300));
}

}  // namespace laminar::storage
