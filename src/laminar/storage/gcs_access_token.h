// OAuth2 access tokens for a Google service account (RFC 7523 JWT bearer grant): a JWT
// signed RS256 with the key's private key is exchanged at the key's token_uri for a
// token with the devstorage.read_write scope. Used by the GCS conditional put, the one
// request Arrow's GCS filesystem (which has its own tokens) cannot make.
#pragma once

#include <arrow/result.h>

#include <string>

namespace laminar::storage {

// A token for the service account key `key_json` (the JSON key file's contents: type
// "service_account", client_email, private_key, token_uri). Tokens are cached per
// account and token_uri until a minute before they expire, so most calls do not block;
// the others make one HTTPS request (60 s deadline). Thread-safe. Errors name the
// account, never the private key or a token.
arrow::Result<std::string> GcsServiceAccountToken(const std::string& key_json);

}  // namespace laminar::storage
