// Conditional creation of an Azure blob: Put Blob with `If-None-Match: *` creates the
// blob only if the name is free (409 BlobAlreadyExists otherwise). This is what makes
// Delta commits on Azure Blob / ADLS safe for concurrent writers. Arrow's Azure
// filesystem cannot send the condition, so this one request goes through libcurl,
// authorized with the account key (Shared Key) or a SAS token.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <map>
#include <string>

namespace laminar::storage {

// OK when the options hold what AzurePutIfAbsent signs with: azure_storage_account_name
// and azure_storage_account_key or azure_storage_sas_token. Otherwise Invalid naming
// those keys (client-secret and default credentials need a token flow not done here).
arrow::Status CheckAzurePutIfAbsentCredentials(const std::map<std::string, std::string>& options);

// `options` are the storage options (azure_storage_account_name, _account_key or
// _sas_token, optional azure_storage_endpoint "http://host:port" for path-style
// emulators); `container_and_blob` is "container/path/to/blob" (TableLocation::root
// joined with the relative path). Returns true when created, false when the blob
// already existed. Errors name the blob, never the key or the SAS token.
arrow::Result<bool> AzurePutIfAbsent(const std::map<std::string, std::string>& options,
                                     const std::string& container_and_blob, const std::string& body);

// Exposed for tests. The Shared Key string to sign (version 2015-02-21 and later rules)
// for a request without query parameters: `headers` maps lower-case names to the values
// sent, `encoded_path` is the URL path as sent ("/container/blob", or
// "/account/container/blob" path style).
std::string AzureSharedKeyStringToSign(const std::string& method, const std::map<std::string, std::string>& headers,
                                       const std::string& account, const std::string& encoded_path);
// Base64(HMAC-SHA256(Base64Decode(account_key), string_to_sign)); Invalid when the key is
// not base64 (the message does not show it).
arrow::Result<std::string> AzureSharedKeySignature(const std::string& account_key, const std::string& string_to_sign);

}  // namespace laminar::storage
