// Turns tokenized CSV records into Arrow rows of a declared schema, all or nothing per row:
// every field is converted into a pending slot first, and only when all succeeded are the
// slots appended to the builders. Shared by the message and the stream decoder.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "laminar/serde/csv/csv_options.h"
#include "laminar/serde/csv/csv_tokenizer.h"

namespace laminar::serde {

class CsvColumn;

enum class RowOutcome { kAppended, kSkipped, kError };

class CsvRowBuilder {
 public:
  // Config error (naming the column) for nested types and types CSV cannot hold; `where` is
  // the connector's Where() text.
  static arrow::Result<std::unique_ptr<CsvRowBuilder>> Make(std::shared_ptr<arrow::Schema> schema,
                                                            const CsvOptions& options, const std::string& where);
  ~CsvRowBuilder();

  // Converts one record; on kError *error says which column and why, and nothing was appended.
  // A non-OK status only for allocation failures.
  arrow::Result<RowOutcome> AddRow(std::span<const CsvField> fields, std::string* error);

  int64_t num_rows() const { return num_rows_; }
  // The rows added since the last call, as one batch; the builders start over.
  arrow::Result<std::shared_ptr<arrow::RecordBatch>> Flush();
  const std::shared_ptr<arrow::Schema>& schema() const { return schema_; }

 private:
  CsvRowBuilder() = default;

  std::shared_ptr<arrow::Schema> schema_;
  CsvOptions options_;
  std::vector<std::unique_ptr<CsvColumn>> columns_;
  std::vector<uint8_t> pending_null_;
  int64_t num_rows_ = 0;
  int64_t reserved_ = 0;  // rows the builders have room for since the last Flush
};

}  // namespace laminar::serde
