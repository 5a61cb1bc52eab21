// Conditional creation of a GCS object: a JSON API media upload with
// `ifGenerationMatch=0` creates the object only if no live generation exists (412
// otherwise). This is what makes Delta commits on GCS safe for concurrent writers.
// Arrow's GCS filesystem cannot send the precondition, so this one request goes
// through libcurl, anonymous (emulators) or with a service account's access token.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <map>
#include <string>

namespace laminar::storage {

// OK when GcsPutIfAbsent can authorize a request with the options: a service account
// key (google_service_account_key JSON or google_service_account_path), or anonymous
// access (google_anonymous = true, or a google_endpoint without credentials: an
// emulator). Otherwise Invalid naming those keys: default credentials (metadata server,
// gcloud user login) are not supported here.
arrow::Status CheckGcsPutIfAbsentCredentials(const std::map<std::string, std::string>& options);

// `bucket_and_object` is "bucket/path/to/object". Returns true when created, false when
// the object already existed. Errors name the object, never a key or token.
arrow::Result<bool> GcsPutIfAbsent(const std::map<std::string, std::string>& options,
                                   const std::string& bucket_and_object, const std::string& body);

}  // namespace laminar::storage
