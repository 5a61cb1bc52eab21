// Turns a parsed DDL script into configured, opened connectors and a Pipeline. Errors
// about user input point at the DDL: file, line, column and a caret.
#pragma once

#include <arrow/result.h>

#include <memory>
#include <string>

#include "laminar/core/registry.h"
#include "laminar/ddl/ddl.h"
#include "laminar/runtime/pipeline.h"

namespace laminar::cli {

struct BuildOptions {
  std::string pipeline_name;
  runtime::PipelineOptions pipeline;
  std::string checkpoint_dir;
  // Validate keys only: do not open connectors (no I/O).
  bool validate_only = false;
};

// Validates (and unless validate_only, opens) every connector of the script. Returns null
// on validate_only success.
arrow::Result<std::unique_ptr<runtime::Pipeline>> BuildPipeline(const ddl::Script& script,
                                                                const ConnectorRegistry& registry,
                                                                const BuildOptions& options);

}  // namespace laminar::cli
