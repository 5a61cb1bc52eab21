#include "laminar/storage/gcs_access_token.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "laminar/core/secrets.h"
#include "laminar/storage/http_internal.h"

namespace laminar::storage {

namespace {

namespace json = boost::json;

constexpr const char* kScope = "https://www.googleapis.com/auth/devstorage.read_write";
constexpr const char* kDefaultTokenUri = "https://oauth2.googleapis.com/token";

struct CachedToken {
  std::string token;
  std::chrono::steady_clock::time_point refresh_at;
};

std::string StringField(const json::object& o, const char* name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

arrow::Result<std::string> SignRs256(const std::string& pem, const std::string& data, const std::string& account) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) return arrow::Status::OutOfMemory("BIO_new_mem_buf");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr),
                                                          EVP_PKEY_free);
  if (!key) return arrow::Status::Invalid("the private_key of service account '", account, "' is not a PEM key");
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return arrow::Status::Invalid("cannot sign with the private_key of service account '", account, "' (RS256)");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return arrow::Status::Invalid("cannot sign with the private_key of service account '", account, "' (RS256)");
  }
  signature.resize(size);
  return signature;
}

}  // namespace

arrow::Result<std::string> GcsServiceAccountToken(const std::string& key_json) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(key_json, ec);
  if (ec || !parsed.is_object()) return arrow::Status::Invalid("the GCS service account key is not a JSON object");
  const auto& key = parsed.as_object();
  const std::string type = StringField(key, "type");
  const std::string account = StringField(key, "client_email");
  const std::string private_key = StringField(key, "private_key");
  RegisterSecret(private_key);  // the key file's text may never have passed a config key
  std::string token_uri = StringField(key, "token_uri");
  if (token_uri.empty()) token_uri = kDefaultTokenUri;
  if (!type.empty() && type != "service_account") {
    return arrow::Status::Invalid("the GCS credentials are of type '", type,
                                  "'; a conditional commit needs a service account key (type 'service_account')");
  }
  if (account.empty() || private_key.empty()) {
    return arrow::Status::Invalid("the GCS service account key lacks 'client_email' or 'private_key'");
  }

  static std::mutex mu;
  static std::map<std::string, CachedToken> cache;
  const std::string cache_key = account + "\n" + token_uri;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache.find(cache_key); it != cache.end() && now < it->second.refresh_at) return it->second.token;
  }

  const int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  json::object header{{"alg", "RS256"}, {"typ", "JWT"}};
  if (auto id = StringField(key, "private_key_id"); !id.empty()) header["kid"] = id;
  const json::object claims{{"iss", account}, {"scope", kScope}, {"aud", token_uri}, {"iat", iat}, {"exp", iat + 3600}};
  const std::string unsigned_jwt =
      internal::Base64UrlEncode(json::serialize(header)) + "." + internal::Base64UrlEncode(json::serialize(claims));
  ARROW_ASSIGN_OR_RAISE(auto signature, SignRs256(private_key, unsigned_jwt, account));

  internal::HttpRequest request;
  request.method = "POST";
  request.url = token_uri;
  request.headers = {"Content-Type: application/x-www-form-urlencoded"};
  request.body = "grant_type=" + internal::PercentEncode("urn:ietf:params:oauth:grant-type:jwt-bearer", false) +
                 "&assertion=" + unsigned_jwt + "." + internal::Base64UrlEncode(signature);
  const std::string what = "access token request for service account '" + account + "' to " + token_uri;
  ARROW_ASSIGN_OR_RAISE(auto response, internal::Send(request, what));
  const json::value answer = json::parse(response.body, ec);
  if (response.status != 200 || ec || !answer.is_object()) {
    // The OAuth error and its description say what is wrong and hold no secret.
    std::string reason;
    if (!ec && answer.is_object()) {
      reason = StringField(answer.as_object(), "error") + " " + StringField(answer.as_object(), "error_description");
    }
    return arrow::Status::IOError(what, " answered HTTP ", response.status, reason.empty() ? "" : ": " + reason);
  }
  const std::string token = StringField(answer.as_object(), "access_token");
  if (token.empty()) return arrow::Status::IOError(what, " answered without an access_token");
  RegisterSecret(token);
  int64_t expires_in = 3600;
  if (const auto* e = answer.as_object().if_contains("expires_in"); e != nullptr && e->is_int64()) {
    expires_in = e->as_int64();
  }
  // Renew a minute early so that a request never carries a token that expires in flight.
  const auto margin = std::chrono::seconds(expires_in > 120 ? 60 : expires_in / 2);
  std::lock_guard<std::mutex> lock(mu);
  cache[cache_key] = CachedToken{token, now + std::chrono::seconds(expires_in) - margin};
  return token;
}

}  // namespace laminar::storage
