// Arrow schemas <-> the Delta log's schemaString (a Spark StructType in JSON), and the
// physical form columns take in the data files: Delta has no unsigned integers, keeps
// timestamps in microseconds and has no TIME type.
#pragma once

#include <arrow/record_batch.h>
#include <arrow/result.h>
#include <arrow/type.h>

#include <memory>
#include <string>
#include <vector>

namespace laminar::delta {

struct DeltaSchema {
  std::string schema_string;       // the metaData.schemaString JSON
  bool uses_timestamp_ntz = false;  // needs the timestampNtz table feature
};

// Fails (naming the column) for types Delta cannot hold, e.g. TIME.
arrow::Result<DeltaSchema> ToDeltaSchema(const arrow::Schema& schema);
arrow::Result<std::shared_ptr<arrow::Schema>> FromDeltaSchemaString(const std::string& schema_string);

// The Arrow type a column is stored as: uint8/16/32 widen to the next signed type, uint64
// to DECIMAL(20, 0), timestamps to microseconds (the zone kept, normalised to UTC).
arrow::Result<std::shared_ptr<arrow::DataType>> StorageType(const std::shared_ptr<arrow::DataType>& type,
                                                            const std::string& column);
arrow::Result<std::shared_ptr<arrow::Schema>> StorageSchema(const arrow::Schema& schema);
// Casts the batch's columns to `storage` (same names, in order).
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ToStorage(const std::shared_ptr<arrow::RecordBatch>& batch,
                                                             const std::shared_ptr<arrow::Schema>& storage);

// The rows of `batch`, a data file's, in the columns of `schema`: matched by name, cast
// where the types differ, null where the file predates a column added since.
arrow::Result<std::shared_ptr<arrow::RecordBatch>> ConformToSchema(const std::shared_ptr<arrow::RecordBatch>& batch,
                                                                   const std::shared_ptr<arrow::Schema>& schema);

// Compares the table's columns with the input's (both already in storage form). Returns
// the input's columns the table lacks (additions). Fails naming the column for a type
// change, for a table column that is NOT NULL but missing from the input or nullable in it.
arrow::Result<std::vector<std::shared_ptr<arrow::Field>>> CompareWithTable(const arrow::Schema& table,
                                                                           const arrow::Schema& input);

}  // namespace laminar::delta
