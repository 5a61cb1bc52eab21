// Where a lakehouse table lives and how to reach it (spec 30 §4): the provider is read
// off the path's scheme, every `storage.<name>` key is passed on as option <name>, and
// cloud credentials missing from the config are taken from the usual environment
// variables. Shared by the Delta sink and source (and Iceberg later).
#pragma once

#include <arrow/filesystem/filesystem.h>
#include <arrow/result.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "laminar/core/config.h"

namespace laminar::storage {

enum class Provider { kLocal, kS3, kAzure, kGcs };

const char* ProviderName(Provider provider);
// s3://, s3a:// -> S3; az://, abfs://, abfss://, wasb://, wasbs:// -> Azure; gs://, gcs:// -> GCS;
// anything else is a local path. The scheme is matched ignoring case.
Provider DetectProvider(const std::string& location);

struct StorageOptions {
  Provider provider = Provider::kLocal;
  std::string location;                        // as configured
  std::map<std::string, std::string> options;  // storage.<name> without the prefix, plus env fallbacks

  // Reads `storage.*` from config for the table at `location` (the value of `location_key`,
  // named in errors). Validation: S3 needs a region (aws_region), an access key needs its
  // secret and the other way round; Azure needs an account name. Missing credentials only warn.
  static arrow::Result<StorageOptions> FromConfig(const ConnectorConfig& config, const std::string& location_key);

  // "aws_region=eu-west-1, aws_secret_access_key=***": never shows a secret.
  std::string DisplayRedacted() const;
};

// The filesystem and the table's root path inside it. Local paths are made absolute.
struct TableLocation {
  std::shared_ptr<arrow::fs::FileSystem> fs;
  std::string root;  // no trailing '/'
  bool local = false;
  Provider provider = Provider::kLocal;
  std::map<std::string, std::string> options;  // for requests Arrow cannot make (conditional puts)
  std::string Join(const std::string& relative) const { return root + "/" + relative; }
};

arrow::Result<TableLocation> OpenLocation(const StorageOptions& options);

// Lists `selector` like FileSystem::GetFileInfo, but tolerates another writer changing the
// directory meanwhile: a local listing fails when a directory appears between opendir()
// and Arrow's existence check, or an entry vanishes mid-walk. Such failures are retried a
// few times; a missing directory with allow_not_found set is an empty listing.
arrow::Result<std::vector<arrow::fs::FileInfo>> ListFiles(arrow::fs::FileSystem& fs,
                                                          const arrow::fs::FileSelector& selector);

// Shuts down cloud SDKs (Arrow's S3 needs it before static destruction). Call once, at the
// end of main, after every filesystem is released. A no-op when none was used.
void FinalizeCloudStorage();

}  // namespace laminar::storage
