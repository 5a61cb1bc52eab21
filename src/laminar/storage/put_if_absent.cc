#include "laminar/storage/put_if_absent.h"

#include "laminar/storage/azure_put_if_absent.h"
#include "laminar/storage/gcs_put_if_absent.h"
#include "laminar/storage/s3_put_if_absent.h"

namespace laminar::storage {

arrow::Status CheckPutIfAbsentCredentials(Provider provider, const std::map<std::string, std::string>& options) {
  switch (provider) {
    case Provider::kLocal: return arrow::Status::OK();
    case Provider::kS3: return CheckS3PutIfAbsentCredentials(options);
    case Provider::kAzure: return CheckAzurePutIfAbsentCredentials(options);
    case Provider::kGcs: return CheckGcsPutIfAbsentCredentials(options);
  }
  return arrow::Status::Invalid("unknown storage provider");
}

arrow::Result<bool> PutIfAbsent(Provider provider, const std::map<std::string, std::string>& options,
                                const std::string& path, const std::string& body) {
  switch (provider) {
    case Provider::kLocal: break;
    case Provider::kS3: return S3PutIfAbsent(options, path, body);
    case Provider::kAzure: return AzurePutIfAbsent(options, path, body);
    case Provider::kGcs: return GcsPutIfAbsent(options, path, body);
  }
  return arrow::Status::NotImplemented("put-if-absent for ", ProviderName(provider), " storage");
}

}  // namespace laminar::storage
