// Conditional creation of an S3 object (PUT with `If-None-Match: *`): S3 and compatible
// stores (moto) create the object only if the key is free and answer 412 otherwise. This
// is what makes Delta commits on S3 safe for concurrent writers. Arrow's S3 filesystem
// cannot send the header, so this one request goes through libcurl, signed with SigV4.
#pragma once

#include <arrow/result.h>
#include <arrow/status.h>

#include <map>
#include <string>

namespace laminar::storage {

// OK when the options hold static keys (aws_access_key_id and aws_secret_access_key),
// the only credentials S3PutIfAbsent signs with; otherwise Invalid naming those keys.
arrow::Status CheckS3PutIfAbsentCredentials(const std::map<std::string, std::string>& options);

// `options` are the storage options (aws_region, aws_endpoint, aws_access_key_id,
// aws_secret_access_key, aws_session_token); `bucket_and_key` is "bucket/path/to/key".
// Returns true when created, false when the key already existed.
arrow::Result<bool> S3PutIfAbsent(const std::map<std::string, std::string>& options, const std::string& bucket_and_key,
                                  const std::string& body);

}  // namespace laminar::storage
