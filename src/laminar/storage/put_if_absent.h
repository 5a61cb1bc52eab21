// Put-if-absent on whichever object store a table lives: the one primitive that makes a
// Delta commit safe when writers race for a version. Dispatches to the S3, Azure Blob
// and GCS requests (each in its own header); local files use link(2) in the caller.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <map>
#include <string>

#include "laminar/storage/storage_options.h"

namespace laminar::storage {

// OK when PutIfAbsent can authorize its request with `options` for `provider`; Invalid
// naming the storage.* keys to set otherwise (a cheap check, no I/O). kLocal is OK.
arrow::Status CheckPutIfAbsentCredentials(Provider provider, const std::map<std::string, std::string>& options);

// Creates the object `path` (TableLocation::Join: "bucket/key" or "container/blob")
// with `body` only if no object of that name exists. Returns true when created, false
// when it existed (nothing written). Blocking, one request (plus a token request for a
// GCS service account). An error means the outcome is unknown: the object may exist.
// Not for kLocal (NotImplemented).
arrow::Result<bool> PutIfAbsent(Provider provider, const std::map<std::string, std::string>& options,
                                const std::string& path, const std::string& body);

}  // namespace laminar::storage
