// Private to src/laminar/storage: the one libcurl request each conditional put needs
// (S3, Azure Blob, GCS), with what the three share: option lookup, endpoint, key and
// base64 encoding, response collection. Blocking; safe to call from any thread.
#pragma once

#include <arrow/result.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace laminar::storage::internal {

// The value of `key` in `options`, "" when absent.
std::string Option(const std::map<std::string, std::string>& options, const std::string& key);

// "host:port/" -> "https://host:port", "http://h:1/" -> "http://h:1": no trailing '/'.
std::string NormalizeEndpoint(std::string endpoint);

// Percent-encodes everything but RFC 3986 unreserved characters (and '/' when keep_slash).
std::string PercentEncode(const std::string& text, bool keep_slash);

// Standard base64 with padding; the URL-safe variant without padding (JWT).
std::string Base64Encode(const std::string& bytes);
std::string Base64UrlEncode(const std::string& bytes);
// nullopt when `text` is not standard padded base64.
std::optional<std::string> Base64Decode(const std::string& text);

struct HttpRequest {
  std::string method;                // "PUT", "POST"
  std::string url;                   // may carry a SAS token: never put it in an error
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string aws_sigv4;             // CURLOPT_AWS_SIGV4 provider string, "" for none
  std::string userpwd;               // with aws_sigv4: "key:secret"
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// Sends `request` with a 60 s deadline. Fails only when no HTTP answer came (connection,
// TLS, timeout); the error names `what` (e.g. "conditional PUT of s3://b/k"), not the URL.
arrow::Result<HttpResponse> Send(const HttpRequest& request, const std::string& what);

}  // namespace laminar::storage::internal
