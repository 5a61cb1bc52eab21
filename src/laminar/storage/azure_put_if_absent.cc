#include "laminar/storage/azure_put_if_absent.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>

#include "laminar/storage/http_internal.h"

namespace laminar::storage {

namespace {

using internal::Option;

// Accepted by Azure Storage and by Azurite 3.35.
constexpr const char* kApiVersion = "2021-08-06";

std::string HttpDate() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  // RFC 1123 with English names, whatever the process locale.
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[utc.tm_wday], utc.tm_mday,
                kMonths[utc.tm_mon], utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
  return buf;
}

// The <Code> of an Azure error body, for messages: the rest may echo request details.
std::string ErrorCode(const internal::HttpResponse& response) {
  if (auto it = response.headers.find("x-ms-error-code"); it != response.headers.end()) return it->second;
  const auto begin = response.body.find("<Code>");
  const auto end = response.body.find("</Code>");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return "";
  return response.body.substr(begin + 6, end - begin - 6);
}

}  // namespace

arrow::Status CheckAzurePutIfAbsentCredentials(const std::map<std::string, std::string>& options) {
  if (Option(options, "azure_storage_account_name").empty()) {
    return arrow::Status::Invalid("a conditional commit on Azure needs 'storage.azure_storage_account_name'");
  }
  if (!Option(options, "azure_storage_account_key").empty() || !Option(options, "azure_storage_sas_token").empty()) {
    return arrow::Status::OK();
  }
  return arrow::Status::Invalid(
      "a conditional commit on Azure is signed with the account key or a SAS token only: set "
      "'storage.azure_storage_account_key' (AZURE_STORAGE_ACCOUNT_KEY) or 'storage.azure_storage_sas_token' "
      "(AZURE_STORAGE_SAS_TOKEN); client-secret and default credentials cannot sign it");
}

std::string AzureSharedKeyStringToSign(const std::string& method, const std::map<std::string, std::string>& headers,
                                       const std::string& account, const std::string& encoded_path) {
  auto header = [&](const char* name) { return Option(headers, name); };
  std::string length = header("content-length");
  if (length == "0") length.clear();  // since version 2015-02-21
  std::string out = method + "\n" + header("content-encoding") + "\n" + header("content-language") + "\n" + length +
                    "\n" + header("content-md5") + "\n" + header("content-type") + "\n" + header("date") + "\n" +
                    header("if-modified-since") + "\n" + header("if-match") + "\n" + header("if-none-match") + "\n" +
                    header("if-unmodified-since") + "\n" + header("range") + "\n";
  // std::map keeps the x-ms-* names sorted, as the canonical form wants.
  for (const auto& [name, value] : headers) {
    if (name.rfind("x-ms-", 0) == 0) out += name + ":" + value + "\n";
  }
  out += "/" + account + encoded_path;
  return out;
}

arrow::Result<std::string> AzureSharedKeySignature(const std::string& account_key, const std::string& string_to_sign) {
  auto key = internal::Base64Decode(account_key);
  if (!key) return arrow::Status::Invalid("'storage.azure_storage_account_key' is not base64");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()),
           reinterpret_cast<const unsigned char*>(string_to_sign.data()), string_to_sign.size(), mac,
           &mac_size) == nullptr) {
    return arrow::Status::IOError("HMAC-SHA256 failed (OpenSSL)");
  }
  return internal::Base64Encode(std::string(reinterpret_cast<const char*>(mac), mac_size));
}

arrow::Result<bool> AzurePutIfAbsent(const std::map<std::string, std::string>& options,
                                     const std::string& container_and_blob, const std::string& body) {
  ARROW_RETURN_NOT_OK(CheckAzurePutIfAbsentCredentials(options));
  const auto slash = container_and_blob.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == container_and_blob.size()) {
    return arrow::Status::Invalid("Azure path '", container_and_blob, "' has no container/blob");
  }
  const std::string what = "conditional Put Blob of '" + container_and_blob + "'";
  const std::string account = Option(options, "azure_storage_account_name");
  const std::string path = "/" + container_and_blob.substr(0, slash) + "/" +
                           internal::PercentEncode(container_and_blob.substr(slash + 1), /*keep_slash=*/true);
  std::string url;
  std::string signed_path;
  if (auto endpoint = Option(options, "azure_storage_endpoint"); !endpoint.empty()) {
    // Emulators (Azurite) put the account in the path, as OpenLocation's Arrow options do.
    signed_path = "/" + account + path;
    url = internal::NormalizeEndpoint(endpoint) + signed_path;
  } else {
    signed_path = path;
    url = "https://" + account + ".blob.core.windows.net" + path;
  }

  std::map<std::string, std::string> headers = {
      {"content-length", std::to_string(body.size())},
      {"content-type", "application/json"},
      {"if-none-match", "*"},
      {"x-ms-blob-type", "BlockBlob"},
      {"x-ms-date", HttpDate()},
      {"x-ms-version", kApiVersion},
  };
  internal::HttpRequest request;
  request.method = "PUT";
  request.body = body;
  for (const auto& [name, value] : headers) {
    if (name != "content-length") request.headers.push_back(name + ": " + value);  // curl sends the length
  }
  if (auto key = Option(options, "azure_storage_account_key"); !key.empty()) {
    request.url = url;
    ARROW_ASSIGN_OR_RAISE(auto signature,
                          AzureSharedKeySignature(key, AzureSharedKeyStringToSign("PUT", headers, account, signed_path)));
    request.headers.push_back("Authorization: SharedKey " + account + ":" + signature);
  } else {
    std::string sas = Option(options, "azure_storage_sas_token");
    if (!sas.empty() && sas.front() == '?') sas.erase(0, 1);
    request.url = url + "?" + sas;
  }
  ARROW_ASSIGN_OR_RAISE(auto response, internal::Send(request, what));
  if (response.status == 201 || response.status == 200) return true;
  const std::string code = ErrorCode(response);
  // Another writer created the blob first: Azure answers 409 BlobAlreadyExists to
  // If-None-Match: *, a 412 ConditionNotMet is the same verdict.
  if ((response.status == 409 && code == "BlobAlreadyExists") || (response.status == 412 && code == "ConditionNotMet")) {
    return false;
  }
  return arrow::Status::IOError(what, " in account '", account, "' answered HTTP ", response.status,
                                code.empty() ? "" : " " + code);
}

}  // namespace laminar::storage
