#include "laminar/storage/storage_options.h"

#include <arrow/filesystem/azurefs.h>
#include <arrow/filesystem/gcsfs.h>
#include <arrow/filesystem/localfs.h>
#include <arrow/buffer.h>
#include <arrow/io/file.h>
#include <arrow/io/interfaces.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#ifdef LAMINAR_HAVE_ARROW_S3
#include <arrow/filesystem/s3fs.h>
#endif

namespace laminar::storage {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string SchemeOf(const std::string& location) {
  const auto colon = location.find("://");
  return colon == std::string::npos ? "" : Lower(location.substr(0, colon));
}

// "bucket/key/path" of "s3://bucket/key/path/".
std::string PathAfterScheme(const std::string& location) {
  std::string path = location.substr(location.find("://") + 3);
  while (!path.empty() && path.back() == '/') path.pop_back();
  return path;
}

struct EnvFallback {
  const char* option;
  const char* variable;
};

constexpr EnvFallback kS3Env[] = {
    {"aws_access_key_id", "AWS_ACCESS_KEY_ID"},       {"aws_secret_access_key", "AWS_SECRET_ACCESS_KEY"},
    {"aws_region", "AWS_REGION"},                     {"aws_session_token", "AWS_SESSION_TOKEN"},
    {"aws_endpoint", "AWS_ENDPOINT_URL"},             {"aws_profile", "AWS_PROFILE"},
    {"aws_s3_allow_unsafe_rename", "AWS_S3_ALLOW_UNSAFE_RENAME"},
};
constexpr EnvFallback kAzureEnv[] = {
    {"azure_storage_account_name", "AZURE_STORAGE_ACCOUNT_NAME"},
    {"azure_storage_account_key", "AZURE_STORAGE_ACCOUNT_KEY"},
    {"azure_storage_sas_token", "AZURE_STORAGE_SAS_TOKEN"},
    {"azure_storage_client_id", "AZURE_CLIENT_ID"},
    {"azure_storage_tenant_id", "AZURE_TENANT_ID"},
    {"azure_storage_client_secret", "AZURE_CLIENT_SECRET"},
};
constexpr EnvFallback kGcsEnv[] = {
    {"google_service_account_path", "GOOGLE_APPLICATION_CREDENTIALS"},
    {"google_service_account_key", "GOOGLE_SERVICE_ACCOUNT_KEY"},
};

template <size_t N>
void FillFromEnv(const EnvFallback (&table)[N], std::map<std::string, std::string>* options) {
  for (const auto& entry : table) {
    if (options->count(entry.option)) continue;
    const char* value = std::getenv(entry.variable);
    if (value != nullptr && *value != '\0') (*options)[entry.option] = value;
  }
}

std::string Option(const std::map<std::string, std::string>& options, const std::string& key) {
  auto it = options.find(key);
  return it == options.end() ? "" : it->second;
}

// "http://127.0.0.1:9000" -> scheme "http", authority "127.0.0.1:9000".
void SplitEndpoint(const std::string& endpoint, std::string* scheme, std::string* authority) {
  const auto colon = endpoint.find("://");
  if (colon == std::string::npos) {
    *authority = endpoint;
    return;
  }
  *scheme = Lower(endpoint.substr(0, colon));
  *authority = endpoint.substr(colon + 3);
  while (!authority->empty() && authority->back() == '/') authority->pop_back();
}

}  // namespace

const char* ProviderName(Provider provider) {
  switch (provider) {
    case Provider::kLocal: return "local";
    case Provider::kS3: return "s3";
    case Provider::kAzure: return "azure";
    case Provider::kGcs: return "gcs";
  }
  return "?";
}

Provider DetectProvider(const std::string& location) {
  const std::string scheme = SchemeOf(location);
  if (scheme == "s3" || scheme == "s3a") return Provider::kS3;
  if (scheme == "az" || scheme == "abfs" || scheme == "abfss" || scheme == "wasb" || scheme == "wasbs") {
    return Provider::kAzure;
  }
  if (scheme == "gs" || scheme == "gcs") return Provider::kGcs;
  return Provider::kLocal;
}

arrow::Result<StorageOptions> StorageOptions::FromConfig(const ConnectorConfig& config, const std::string& location_key) {
  StorageOptions out;
  ARROW_ASSIGN_OR_RAISE(out.location, config.Require(location_key));
  if (out.location.empty()) return ConfigError(config.Where(), "option '" + location_key + "' must not be empty");
  out.provider = DetectProvider(out.location);
  out.options = config.PropertiesWithPrefix("storage.");
  switch (out.provider) {
    case Provider::kLocal: break;
    case Provider::kS3: {
      FillFromEnv(kS3Env, &out.options);
      if (Option(out.options, "aws_region").empty()) {
        return ConfigError(config.Where(), "S3 table '" + out.location +
                                               "' needs a region: set 'storage.aws_region' or AWS_REGION");
      }
      const bool key = !Option(out.options, "aws_access_key_id").empty();
      const bool secret = !Option(out.options, "aws_secret_access_key").empty();
      if (key != secret) {
        return ConfigError(config.Where(), std::string("S3 credentials are incomplete: '") +
                                               (key ? "storage.aws_access_key_id" : "storage.aws_secret_access_key") +
                                               "' is set but '" +
                                               (key ? "storage.aws_secret_access_key" : "storage.aws_access_key_id") +
                                               "' is not");
      }
      if (!key && Option(out.options, "aws_profile").empty()) {
        spdlog::warn("{}: no S3 credentials configured; relying on the instance's identity", config.Where());
      }
      break;
    }
    case Provider::kAzure: {
      FillFromEnv(kAzureEnv, &out.options);
      if (Option(out.options, "azure_storage_account_name").empty()) {
        return ConfigError(config.Where(), "Azure table '" + out.location +
                                               "' needs an account name: set 'storage.azure_storage_account_name' or "
                                               "AZURE_STORAGE_ACCOUNT_NAME");
      }
      break;
    }
    case Provider::kGcs: FillFromEnv(kGcsEnv, &out.options); break;
  }
  return out;
}

std::string StorageOptions::DisplayRedacted() const {
  std::string out;
  for (const auto& [key, value] : options) {
    if (!out.empty()) out += ", ";
    out += key + "=" + (IsSecretKey(key) || key == "aws_access_key_id" ? std::string("***") : value);
  }
  return out;
}

arrow::Result<TableLocation> OpenLocation(const StorageOptions& options) {
  TableLocation out;
  out.provider = options.provider;
  out.options = options.options;
  switch (options.provider) {
    case Provider::kLocal: {
      std::string path = options.location;
      if (SchemeOf(path) == "file") path = path.substr(7);
      std::error_code ec;
      auto absolute = std::filesystem::absolute(path, ec);
      if (ec) return arrow::Status::IOError("cannot resolve path '", path, "': ", ec.message());
      out.root = absolute.lexically_normal().string();
      while (out.root.size() > 1 && out.root.back() == '/') out.root.pop_back();
      out.fs = std::make_shared<arrow::fs::LocalFileSystem>();
      out.local = true;
      return out;
    }
    case Provider::kS3: {
#ifdef LAMINAR_HAVE_ARROW_S3
      ARROW_RETURN_NOT_OK(arrow::fs::EnsureS3Initialized());

      const auto& o = options.options;
      arrow::fs::S3Options s3 = Option(o, "aws_access_key_id").empty()
                                    ? arrow::fs::S3Options::Defaults()
                                    : arrow::fs::S3Options::FromAccessKey(Option(o, "aws_access_key_id"),
                                                                          Option(o, "aws_secret_access_key"),
                                                                          Option(o, "aws_session_token"));
      if (!Option(o, "aws_profile").empty() && Option(o, "aws_access_key_id").empty()) {
        s3.ConfigureDefaultCredentials();
      }
      s3.region = Option(o, "aws_region");
      if (auto endpoint = Option(o, "aws_endpoint"); !endpoint.empty()) {
        std::string scheme = "https";
        SplitEndpoint(endpoint, &scheme, &s3.endpoint_override);
        s3.scheme = scheme;
        s3.force_virtual_addressing = false;
      }
      s3.allow_bucket_creation = Lower(Option(o, "allow_bucket_creation")) == "true";
      ARROW_ASSIGN_OR_RAISE(auto fs, arrow::fs::S3FileSystem::Make(s3));
      out.fs = std::move(fs);
      out.root = PathAfterScheme(options.location);
      return out;
#else
      return arrow::Status::NotImplemented("this build has no S3 filesystem (Arrow without S3)");
#endif
    }
    case Provider::kAzure: {
      const auto& o = options.options;
      arrow::fs::AzureOptions azure;
      azure.account_name = Option(o, "azure_storage_account_name");
      if (auto endpoint = Option(o, "azure_storage_endpoint"); !endpoint.empty()) {
        std::string scheme = "https";
        std::string authority;
        SplitEndpoint(endpoint, &scheme, &authority);
        azure.blob_storage_scheme = scheme;
        azure.dfs_storage_scheme = scheme;
        azure.blob_storage_authority = authority;
        azure.dfs_storage_authority = authority;
      }
      if (auto key = Option(o, "azure_storage_account_key"); !key.empty()) {
        ARROW_RETURN_NOT_OK(azure.ConfigureAccountKeyCredential(key));
      } else if (auto sas = Option(o, "azure_storage_sas_token"); !sas.empty()) {
        // Arrow appends the token to its URLs as is: without the '?' it becomes a path.
        ARROW_RETURN_NOT_OK(azure.ConfigureSASCredential(sas.front() == '?' ? sas : "?" + sas));
      } else if (!Option(o, "azure_storage_client_secret").empty()) {
        ARROW_RETURN_NOT_OK(azure.ConfigureClientSecretCredential(Option(o, "azure_storage_tenant_id"),
                                                                  Option(o, "azure_storage_client_id"),
                                                                  Option(o, "azure_storage_client_secret")));
      } else {
        ARROW_RETURN_NOT_OK(azure.ConfigureDefaultCredential());
      }
      ARROW_ASSIGN_OR_RAISE(auto fs, arrow::fs::AzureFileSystem::Make(azure));
      out.fs = std::move(fs);
      // az://container/path and abfss://container@account.dfs.core.windows.net/path
      std::string path = PathAfterScheme(options.location);
      if (const auto at = path.find('@'); at != std::string::npos && at < path.find('/')) {
        const auto slash = path.find('/');
        path = path.substr(0, at) + (slash == std::string::npos ? "" : path.substr(slash));
      }
      out.root = path;
      return out;
    }
    case Provider::kGcs: {
      const auto& o = options.options;
      arrow::fs::GcsOptions gcs = arrow::fs::GcsOptions::Defaults();
      if (auto key = Option(o, "google_service_account_key"); !key.empty()) {
        gcs = arrow::fs::GcsOptions::FromServiceAccountCredentials(key);
      } else if (auto path = Option(o, "google_service_account_path"); !path.empty()) {
        ARROW_ASSIGN_OR_RAISE(auto file, arrow::io::ReadableFile::Open(path));
        ARROW_ASSIGN_OR_RAISE(auto size, file->GetSize());
        ARROW_ASSIGN_OR_RAISE(auto bytes, file->Read(size));
        gcs = arrow::fs::GcsOptions::FromServiceAccountCredentials(bytes->ToString());
      } else if (Lower(Option(o, "google_anonymous")) == "true") {
        gcs = arrow::fs::GcsOptions::Anonymous();
      }
      if (auto endpoint = Option(o, "google_endpoint"); !endpoint.empty()) {
        std::string scheme = "https";
        SplitEndpoint(endpoint, &scheme, &gcs.endpoint_override);
        gcs.scheme = scheme;
      }
      ARROW_ASSIGN_OR_RAISE(out.fs, arrow::fs::GcsFileSystem::Make(gcs));
      out.root = PathAfterScheme(options.location);
      return out;
    }
  }
  return arrow::Status::Invalid("unknown storage provider");
}

arrow::Result<std::vector<arrow::fs::FileInfo>> ListFiles(arrow::fs::FileSystem& fs,
                                                          const arrow::fs::FileSelector& selector) {
  constexpr int kAttempts = 5;
  arrow::Status last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto listed = fs.GetFileInfo(selector);
    if (listed.ok() || !listed.status().IsIOError()) return listed;
    last = listed.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(5 << attempt));
  }
  return last;
}

void FinalizeCloudStorage() {
#ifdef LAMINAR_HAVE_ARROW_S3
  if (arrow::fs::IsS3Initialized()) (void)arrow::fs::FinalizeS3();
#endif
}

}  // namespace laminar::storage
