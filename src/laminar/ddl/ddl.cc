// Lexer and recursive-descent parser for the connector DDL (grammar in README.md). The text
// is tokenised up front; a lexing error becomes the last token, so that whichever problem
// comes first in the file is the one reported. Single-threaded, no global state.

#include "laminar/ddl/ddl.h"

#include <arrow/type.h>
#include <arrow/util/key_value_metadata.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "laminar/core/config.h"
#include "laminar/core/registry.h"
#include "laminar/core/secrets.h"
#include "laminar/core/status.h"
#include "laminar/ddl/types.h"

namespace laminar::ddl {
namespace {

// Beyond this a type is surely a mistake, and the recursion must stop somewhere.
constexpr int kMaxTypeDepth = 32;
// How much of a token an error message quotes.
constexpr size_t kMaxQuotedToken = 40;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentStart(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsContinuationByte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Position(SourceLocation location) {
  return "line " + std::to_string(location.line) + ", column " + std::to_string(location.column);
}

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

enum class TokenKind { kIdent, kQuotedIdent, kString, kNumber, kSymbol, kEnd, kError };

struct Token {
  TokenKind kind = TokenKind::kEnd;
  // kIdent and kNumber: as written; kQuotedIdent and kString: unescaped; kSymbol: the char.
  std::string text;
  size_t begin = 0;  // byte offsets into the script text, end exclusive
  size_t end = 0;
  SourceLocation location;
};

class Lexer {
 public:
  Lexer(const std::string& file_name, std::string_view text) : file_name_(file_name), text_(text) {}

  // All tokens, ending in kEnd, or in kError (with *error set) at the first lexing error.
  std::vector<Token> Tokenize(arrow::Status* error) {
    std::vector<Token> tokens;
    while (true) {
      arrow::Status status = SkipSpaceAndComments();
      if (status.ok() && AtEnd()) {
        // "found end of file" points just past the last token, not at a trailing blank line.
        tokens.push_back(Token{TokenKind::kEnd, "", pos_, pos_, last_end_});
        return tokens;
      }
      Token token;
      if (status.ok()) status = LexToken(&token);
      if (!status.ok()) {
        tokens.push_back(Token{TokenKind::kError, "", pos_, pos_, Here()});
        *error = std::move(status);
        return tokens;
      }
      last_end_ = Here();
      tokens.push_back(std::move(token));
    }
  }

 private:
  SourceLocation Here() const { return {line_, column_}; }
  char At(size_t ahead) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  bool AtEnd() const { return pos_ >= text_.size(); }

  void Advance() {
    const char c = text_[pos_++];
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if (!IsContinuationByte(c)) {
      ++column_;
    }
  }

  arrow::Status Error(SourceLocation location, const std::string& message) const {
    return ErrorAt(file_name_, text_, location, message);
  }

  arrow::Status SkipSpaceAndComments() {
    while (!AtEnd()) {
      const char c = At(0);
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
        Advance();
      } else if (c == '-' && At(1) == '-') {
        while (!AtEnd() && At(0) != '\n') Advance();
      } else if (c == '/' && At(1) == '*') {
        const SourceLocation start = Here();
        Advance();
        Advance();
        while (!(At(0) == '*' && At(1) == '/')) {
          if (AtEnd()) {
            return Error(start, "unterminated block comment: no closing '*/' before the end of the file");
          }
          Advance();
        }
        Advance();
        Advance();
      } else {
        break;
      }
    }
    return arrow::Status::OK();
  }

  arrow::Status LexToken(Token* token) {
    token->begin = pos_;
    token->location = Here();
    const char c = At(0);
    if (IsIdentStart(c)) {
      while (!AtEnd() && IsIdentChar(At(0))) Advance();
      token->kind = TokenKind::kIdent;
      token->text = std::string(text_.substr(token->begin, pos_ - token->begin));
    } else if (IsDigit(c)) {
      while (IsDigit(At(0))) Advance();
      if (At(0) == '.' && IsDigit(At(1))) {
        Advance();
        while (IsDigit(At(0))) Advance();
      }
      if ((At(0) == 'e' || At(0) == 'E') && (IsDigit(At(1)) || ((At(1) == '+' || At(1) == '-') && IsDigit(At(2))))) {
        Advance();
        Advance();
        while (IsDigit(At(0))) Advance();
      }
      token->kind = TokenKind::kNumber;
      token->text = std::string(text_.substr(token->begin, pos_ - token->begin));
    } else if (c == '\'' || c == '"') {
      ARROW_RETURN_NOT_OK(LexQuoted(c, token));
    } else if (c != '\0' && std::strchr("(),;=<>[].-:", c) != nullptr) {
      Advance();
      token->kind = TokenKind::kSymbol;
      token->text = std::string(1, c);
    } else {
      return UnexpectedCharacter();
    }
    token->end = pos_;
    return arrow::Status::OK();
  }

  // '...' strings and "..." identifiers; a doubled quote stands for itself.
  arrow::Status LexQuoted(char quote, Token* token) {
    const SourceLocation start = Here();
    const bool is_string = quote == '\'';
    Advance();
    std::string value;
    while (true) {
      if (AtEnd()) {
        return Error(start, is_string ? "unterminated string: no closing ' before the end of the file"
                                      : "unterminated quoted identifier: no closing \" before the end "
                                        "of the file");
      }
      const char c = At(0);
      Advance();
      if (c == quote) {
        if (At(0) != quote) break;
        Advance();
      }
      value += c;
    }
    if (!is_string && value.empty()) return Error(start, "a quoted identifier cannot be empty");
    token->kind = is_string ? TokenKind::kString : TokenKind::kQuotedIdent;
    token->text = std::move(value);
    return arrow::Status::OK();
  }

  arrow::Status UnexpectedCharacter() const {
    const unsigned char c = static_cast<unsigned char>(At(0));
    if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", c);
      return Error(Here(), std::string("unexpected control character ") + hex);
    }
    size_t length = 1;
    while (pos_ + length < text_.size() && IsContinuationByte(text_[pos_ + length])) ++length;
    std::string message = "unexpected character '" + std::string(text_.substr(pos_, length)) + "'";
    if (c == '`') message += "; quote identifiers with double quotes (\"name\")";
    return Error(Here(), message);
  }

  const std::string& file_name_;
  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
  SourceLocation last_end_{1, 1};
};

struct Name {
  std::string text;
  SourceLocation location;
};

struct Number {
  int64_t value = 0;
  SourceLocation location;
};

struct ParsedType {
  std::shared_ptr<arrow::DataType> type;
  std::shared_ptr<const arrow::KeyValueMetadata> metadata;
};

std::shared_ptr<arrow::DataType> ListOf(const ParsedType& item) {
  return arrow::list(arrow::field("item", item.type, /*nullable=*/true, item.metadata));
}

class Parser {
 public:
  Parser(Script* script, EnvLookup env, std::vector<Token> tokens, arrow::Status lex_error)
      : script_(script), env_(std::move(env)), tokens_(std::move(tokens)), lex_error_(std::move(lex_error)) {}

  arrow::Status Run() {
    while (true) {
      while (IsSymbol(Peek(), ';')) Next();
      const Token& token = Peek();
      if (token.kind == TokenKind::kEnd) break;
      if (!IsKeyword(token, "CREATE")) return Unexpected(token, "CREATE SOURCE or CREATE SINK");
      Next();
      if (IsKeyword(Peek(), "SOURCE")) {
        Next();
        ARROW_RETURN_NOT_OK(ParseSource());
      } else if (IsKeyword(Peek(), "SINK")) {
        Next();
        ARROW_RETURN_NOT_OK(ParseSink());
      } else {
        return Unexpected(Peek(), "SOURCE or SINK after CREATE");
      }
    }
    ARROW_RETURN_NOT_OK(ResolveSinkInputs());
    if (script_->sources.empty()) {
      return Error({1, 1}, "the file declares no sources (expected at least one CREATE SOURCE)");
    }
    return arrow::Status::OK();
  }

 private:
  // Token access. The last token (kEnd or kError) repeats forever.
  const Token& Peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& Next() {
    const Token& token = Peek();
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }
  static bool IsSymbol(const Token& token, char symbol) {
    return token.kind == TokenKind::kSymbol && token.text[0] == symbol;
  }
  // Keywords are unquoted identifiers in any case; "FROM" in double quotes is a name.
  static bool IsKeyword(const Token& token, std::string_view keyword) {
    return token.kind == TokenKind::kIdent && EqualsIgnoreCase(token.text, keyword);
  }

  arrow::Status Error(SourceLocation location, const std::string& message) const {
    return ErrorAt(script_->file_name, script_->text, location, message);
  }

  // How a token is shown after "found".
  std::string Describe(const Token& token) const {
    if (token.kind == TokenKind::kEnd) return "end of file";
    std::string_view raw = std::string_view(script_->text).substr(token.begin, token.end - token.begin);
    bool cut = false;
    if (const size_t newline = raw.find('\n'); newline != std::string_view::npos) {
      raw = raw.substr(0, newline);
      cut = true;
    }
    if (raw.size() > kMaxQuotedToken) {
      // Cut before a character boundary, never inside a UTF-8 sequence.
      size_t keep = kMaxQuotedToken;
      while (keep > 0 && IsContinuationByte(raw[keep])) --keep;
      raw = raw.substr(0, keep);
      cut = true;
    }
    const std::string shown = std::string(raw) + (cut ? "..." : "");
    if (token.kind == TokenKind::kString) return "string " + shown;
    return "'" + shown + "'";
  }

  // "expected <expected>, found <token>"; a lexing error wins, being the real problem.
  arrow::Status Unexpected(const Token& token, const std::string& expected) const {
    if (token.kind == TokenKind::kError) return lex_error_;
    return Error(token.location, "expected " + expected + ", found " + Describe(token));
  }

  arrow::Status ExpectSymbol(char symbol, const std::string& expected) {
    if (!IsSymbol(Peek(), symbol)) return Unexpected(Peek(), expected);
    Next();
    return arrow::Status::OK();
  }

  arrow::Status ExpectKeyword(std::string_view keyword, const std::string& expected) {
    if (!IsKeyword(Peek(), keyword)) return Unexpected(Peek(), expected);
    Next();
    return arrow::Status::OK();
  }

  // name | "quoted name"
  arrow::Result<Name> ParseIdentifier(const std::string& what) {
    const Token& token = Peek();
    if (token.kind != TokenKind::kIdent && token.kind != TokenKind::kQuotedIdent) {
      return Unexpected(token, what);
    }
    Next();
    return Name{token.text, token.location};
  }

  // A name whose segments are joined by any of `separators` with no space around them:
  // delta-lake, bootstrap.servers, fields.v.null-rate. Or one "quoted name".
  arrow::Result<Name> ParseCompoundName(const std::string& what, std::string_view separators) {
    const Token& first = Peek();
    if (first.kind == TokenKind::kQuotedIdent) return ParseIdentifier(what);
    if (first.kind != TokenKind::kIdent) return Unexpected(first, what);
    Next();
    Name name{first.text, first.location};
    size_t end = first.end;
    while (Peek().kind == TokenKind::kSymbol && Peek().begin == end &&
           separators.find(Peek().text[0]) != std::string_view::npos) {
      const Token& separator = Next();
      const Token& segment = Peek();
      if ((segment.kind != TokenKind::kIdent && segment.kind != TokenKind::kNumber) || segment.begin != separator.end) {
        return Unexpected(
            segment, "a name segment right after '" + separator.text + "' in '" + name.text + separator.text + "'");
      }
      Next();
      name.text += separator.text + segment.text;
      end = segment.end;
    }
    return name;
  }

  // A non-negative whole number, e.g. a DECIMAL precision.
  arrow::Result<Number> ParseInteger(const std::string& what) {
    const Token& token = Peek();
    const bool digits_only = token.kind == TokenKind::kNumber &&
                             std::all_of(token.text.begin(), token.text.end(), [](char c) { return IsDigit(c); });
    if (!digits_only) return Unexpected(token, what);
    Number number{0, token.location};
    const auto [ptr, ec] = std::from_chars(token.text.data(), token.text.data() + token.text.size(), number.value);
    if (ec != std::errc() || ptr != token.text.data() + token.text.size()) {
      return Error(token.location, "number " + token.text + " is too large");
    }
    Next();
    return number;
  }

  // CREATE SOURCE name [(columns)] FROM connector (options) [FORMAT f] [;]
  arrow::Status ParseSource() {
    ARROW_ASSIGN_OR_RAISE(Name name, ParseIdentifier("a source name"));
    for (const SourceDef& other : script_->sources) {
      if (EqualsIgnoreCase(other.name, name.text)) {
        return Error(name.location,
                     "duplicate source '" + name.text + "' (first declared at " + Position(other.location) + ")");
      }
    }
    SourceDef source;
    source.name = std::move(name.text);
    source.location = name.location;
    if (IsSymbol(Peek(), '(')) {
      ARROW_RETURN_NOT_OK(ParseColumns(&source.columns));
      ARROW_RETURN_NOT_OK(ExpectKeyword("FROM", "FROM after the column list"));
    } else {
      ARROW_RETURN_NOT_OK(ExpectKeyword("FROM", "'(' or FROM after the source name"));
    }
    source.connector_location = Peek().location;
    ARROW_ASSIGN_OR_RAISE(source.connector, ParseConnector());
    ARROW_RETURN_NOT_OK(ParseOptions(source.connector, &source.options));
    ARROW_RETURN_NOT_OK(ParseFormatAndEnd(&source.options));
    script_->sources.push_back(std::move(source));
    return arrow::Status::OK();
  }

  // CREATE SINK name FROM source INTO connector (options) [FORMAT f] [;]
  arrow::Status ParseSink() {
    ARROW_ASSIGN_OR_RAISE(Name name, ParseIdentifier("a sink name"));
    for (const SinkDef& other : script_->sinks) {
      if (EqualsIgnoreCase(other.name, name.text)) {
        return Error(name.location,
                     "duplicate sink '" + name.text + "' (first declared at " + Position(other.location) + ")");
      }
    }
    SinkDef sink;
    sink.name = std::move(name.text);
    sink.location = name.location;
    ARROW_RETURN_NOT_OK(ExpectKeyword("FROM", "FROM after the sink name"));
    ARROW_ASSIGN_OR_RAISE(Name from, ParseIdentifier("the name of the source the sink reads"));
    sink.from = std::move(from.text);
    sink.from_location = from.location;
    ARROW_RETURN_NOT_OK(ExpectKeyword("INTO", "INTO after the source name"));
    sink.connector_location = Peek().location;
    ARROW_ASSIGN_OR_RAISE(sink.connector, ParseConnector());
    ARROW_RETURN_NOT_OK(ParseOptions(sink.connector, &sink.options));
    ARROW_RETURN_NOT_OK(ParseFormatAndEnd(&sink.options));
    script_->sinks.push_back(std::move(sink));
    return arrow::Status::OK();
  }

  // '(' name type [NOT NULL | NULL] {',' ...} ')'
  arrow::Status ParseColumns(std::vector<ColumnDef>* columns) {
    Next();  // '('
    if (IsSymbol(Peek(), ')')) {
      return Error(Peek().location,
                   "expected a column name, found ')'; to have the columns inferred, leave out "
                   "the parentheses");
    }
    while (true) {
      ARROW_ASSIGN_OR_RAISE(Name name, ParseIdentifier("a column name"));
      for (const ColumnDef& other : *columns) {
        if (EqualsIgnoreCase(other.name, name.text)) {
          return Error(name.location,
                       "duplicate column '" + name.text + "' (first declared at " + Position(other.location) + ")");
        }
      }
      ColumnDef column;
      column.name = std::move(name.text);
      column.location = name.location;
      ARROW_ASSIGN_OR_RAISE(ParsedType type, ParseType(0));
      column.type = std::move(type.type);
      column.metadata = std::move(type.metadata);
      ARROW_ASSIGN_OR_RAISE(column.nullable, ParseNullability());
      columns->push_back(std::move(column));

      const Token& separator = Peek();
      if (IsSymbol(separator, ',')) {
        Next();
        if (IsSymbol(Peek(), ')')) {
          return Error(separator.location, "trailing ',' before ')' in the column list");
        }
      } else if (IsSymbol(separator, ')')) {
        Next();
        return arrow::Status::OK();
      } else {
        return Unexpected(separator, "')' or ',' after column definition");
      }
    }
  }

  // [NOT NULL | NULL]; true when the column may hold nulls.
  arrow::Result<bool> ParseNullability() {
    if (IsKeyword(Peek(), "NOT")) {
      Next();
      ARROW_RETURN_NOT_OK(ExpectKeyword("NULL", "NULL after NOT"));
      return false;
    }
    if (IsKeyword(Peek(), "NULL")) Next();
    return true;
  }

  arrow::Result<ParsedType> ParseType(int depth) {
    const Token& first = Peek();
    if (depth > kMaxTypeDepth) {
      return Error(first.location, "type nested more than " + std::to_string(kMaxTypeDepth) + " levels deep");
    }
    if (first.kind != TokenKind::kIdent) return Unexpected(first, "a type name");
    Next();
    // Multi-word names (DOUBLE PRECISION, BIGINT UNSIGNED) take the next word only when the
    // longer name exists, so `x INT NOT NULL` stops before NOT.
    std::string name = Upper(first.text);
    std::string spelled = first.text;
    while (Peek().kind == TokenKind::kIdent) {
      const std::string longer = name + " " + Upper(Peek().text);
      if (FindSqlType(longer) == nullptr && !IsSqlTypePrefix(longer)) break;
      name = longer;
      spelled += " " + Next().text;
    }
    const SqlTypeInfo* info = FindSqlType(name);
    if (info == nullptr) {
      std::string message = "unknown type '" + spelled + "'";
      if (const std::string suggestion = SuggestSqlType(name); !suggestion.empty()) {
        message += "; did you mean " + suggestion + "?";
      }
      return Error(first.location, message);
    }

    ParsedType result;
    switch (info->kind) {
      case SqlTypeKind::kUnsupported:
        return Error(first.location, "type " + name + " is " + std::string(info->arrow));
      case SqlTypeKind::kScalar:
      case SqlTypeKind::kJson: {
        ARROW_RETURN_NOT_OK(ParseLength(*info, name));
        result.type = info->type;
        if (info->kind == SqlTypeKind::kJson) result.metadata = JsonTypeMetadata();
        break;
      }
      case SqlTypeKind::kDecimal: {
        ARROW_ASSIGN_OR_RAISE(result.type, ParseDecimal(name));
        break;
      }
      case SqlTypeKind::kTimestamp: {
        ARROW_ASSIGN_OR_RAISE(result.type, ParseTimestamp(*info, name));
        break;
      }
      case SqlTypeKind::kArray: {
        ARROW_RETURN_NOT_OK(ExpectSymbol('<', "'<' after ARRAY"));
        ARROW_ASSIGN_OR_RAISE(ParsedType item, ParseType(depth + 1));
        ARROW_RETURN_NOT_OK(ExpectSymbol('>', "'>' to close ARRAY<...>"));
        result.type = ListOf(item);
        break;
      }
      case SqlTypeKind::kStruct: {
        ARROW_ASSIGN_OR_RAISE(result.type, ParseStruct(depth));
        break;
      }
    }
    while (IsSymbol(Peek(), '[')) {
      Next();
      ARROW_RETURN_NOT_OK(ExpectSymbol(']', "']' after '[' (array sizes are not supported)"));
      result = ParsedType{ListOf(result), nullptr};
    }
    return result;
  }

  // [(n)] after VARCHAR and friends; other scalar types take no parameters.
  arrow::Status ParseLength(const SqlTypeInfo& info, const std::string& name) {
    if (!IsSymbol(Peek(), '(')) return arrow::Status::OK();
    if (!info.takes_length) {
      return Error(Peek().location, "type " + name + " takes no parameters");
    }
    Next();
    ARROW_ASSIGN_OR_RAISE(Number length, ParseInteger("the length of " + name + " (a whole number)"));
    if (length.value < 1) {
      return Error(length.location,
                   "the length of " + name + " must be at least 1, got " + std::to_string(length.value));
    }
    return ExpectSymbol(')', "')' after the length of " + name);
  }

  // DECIMAL [(p [, s])]
  arrow::Result<std::shared_ptr<arrow::DataType>> ParseDecimal(const std::string& name) {
    int64_t precision = kDefaultDecimalPrecision;
    int64_t scale = kDefaultDecimalScale;
    if (IsSymbol(Peek(), '(')) {
      Next();
      ARROW_ASSIGN_OR_RAISE(Number p, ParseInteger("the " + name + " precision (a whole number)"));
      if (arrow::Status status = CheckDecimalPrecision(p.value); !status.ok()) {
        return Error(p.location, name + " " + status.message());
      }
      precision = p.value;
      scale = 0;
      if (IsSymbol(Peek(), ',')) {
        Next();
        ARROW_ASSIGN_OR_RAISE(Number s, ParseInteger("the " + name + " scale (a whole number)"));
        if (arrow::Status status = CheckDecimalScale(precision, s.value); !status.ok()) {
          return Error(s.location, name + " " + status.message());
        }
        scale = s.value;
      }
      ARROW_RETURN_NOT_OK(ExpectSymbol(')', "')' or ',' after the " + name + " precision"));
    }
    return MakeDecimalType(precision, scale);
  }

  // TIMESTAMP [(p)] [WITH TIME ZONE | WITHOUT TIME ZONE], TIMESTAMPTZ [(p)]
  arrow::Result<std::shared_ptr<arrow::DataType>> ParseTimestamp(const SqlTypeInfo& info, const std::string& name) {
    arrow::TimeUnit::type unit = arrow::TimeUnit::MICRO;
    if (IsSymbol(Peek(), '(')) {
      Next();
      ARROW_ASSIGN_OR_RAISE(Number p, ParseInteger("the " + name + " precision (0 to 9)"));
      auto maybe_unit = TimestampUnitForPrecision(p.value);
      if (!maybe_unit.ok()) return Error(p.location, maybe_unit.status().message());
      unit = *maybe_unit;
      ARROW_RETURN_NOT_OK(ExpectSymbol(')', "')' after the " + name + " precision"));
    }
    bool utc = info.utc;
    if (!info.utc) {
      const bool with = IsKeyword(Peek(), "WITH");
      if (with || IsKeyword(Peek(), "WITHOUT")) {
        const std::string word = Upper(Next().text);
        ARROW_RETURN_NOT_OK(ExpectKeyword("TIME", "TIME ZONE after " + word));
        ARROW_RETURN_NOT_OK(ExpectKeyword("ZONE", "ZONE after " + word + " TIME"));
        utc = with;
      }
    }
    return utc ? arrow::timestamp(unit, "UTC") : arrow::timestamp(unit);
  }

  // STRUCT '<' name type [NOT NULL | NULL] {',' ...} '>'
  arrow::Result<std::shared_ptr<arrow::DataType>> ParseStruct(int depth) {
    ARROW_RETURN_NOT_OK(ExpectSymbol('<', "'<' after STRUCT"));
    if (IsSymbol(Peek(), '>')) {
      return Error(Peek().location, "expected a STRUCT field name, found '>'; a STRUCT needs at least one field");
    }
    arrow::FieldVector fields;
    std::vector<SourceLocation> locations;
    while (true) {
      ARROW_ASSIGN_OR_RAISE(Name name, ParseIdentifier("a STRUCT field name"));
      for (size_t i = 0; i < fields.size(); ++i) {
        if (EqualsIgnoreCase(fields[i]->name(), name.text)) {
          return Error(name.location,
                       "duplicate STRUCT field '" + name.text + "' (first declared at " + Position(locations[i]) + ")");
        }
      }
      ARROW_ASSIGN_OR_RAISE(ParsedType type, ParseType(depth + 1));
      ARROW_ASSIGN_OR_RAISE(bool nullable, ParseNullability());
      fields.push_back(arrow::field(name.text, type.type, nullable, type.metadata));
      locations.push_back(name.location);

      const Token& separator = Peek();
      if (IsSymbol(separator, ',')) {
        Next();
        if (IsSymbol(Peek(), '>')) {
          return Error(separator.location, "trailing ',' before '>' in the STRUCT fields");
        }
      } else if (IsSymbol(separator, '>')) {
        Next();
        return arrow::struct_(fields);
      } else {
        return Unexpected(separator, "',' or '>' after STRUCT field '" + name.text + "'");
      }
    }
  }

  // kafka | delta-lake | DELTA_LAKE | "delta-lake", canonicalised.
  arrow::Result<std::string> ParseConnector() {
    ARROW_ASSIGN_OR_RAISE(Name name, ParseCompoundName("a connector name", "-"));
    return ConnectorRegistry::CanonicalName(name.text);
  }

  // '(' [key = value {',' key = value}] ')'
  arrow::Status ParseOptions(const std::string& connector, std::vector<OptionDef>* options) {
    ARROW_RETURN_NOT_OK(ExpectSymbol('(', "'(' to start the options of connector '" + connector + "'"));
    if (IsSymbol(Peek(), ')')) {
      Next();
      return arrow::Status::OK();
    }
    while (true) {
      OptionDef option;
      const Token& key = Peek();
      option.key_location = key.location;
      if (key.kind == TokenKind::kString || key.kind == TokenKind::kQuotedIdent) {
        Next();
        if (key.text.empty()) return Error(key.location, "an option key cannot be empty");
        option.key = key.text;
      } else if (key.kind == TokenKind::kIdent) {
        ARROW_ASSIGN_OR_RAISE(Name name, ParseCompoundName("an option key", ".-"));
        option.key = std::move(name.text);
      } else {
        return Unexpected(key, "an option key (a name or a quoted string)");
      }
      for (const OptionDef& other : *options) {
        if (other.key == option.key) {
          return Error(option.key_location,
                       "duplicate option '" + option.key + "' (first set at " + Position(other.key_location) + ")");
        }
      }
      ARROW_RETURN_NOT_OK(ExpectSymbol('=', "'=' after option '" + option.key + "'"));
      ARROW_RETURN_NOT_OK(ParseOptionValue(&option));
      // Registered as soon as parsed: errors raised before the connector validates its
      // options (an unknown connector, a later statement) are scrubbed too.
      RegisterIfSecretKey(option.key, option.value);
      const std::string key_text = option.key;
      options->push_back(std::move(option));

      const Token& separator = Peek();
      if (IsSymbol(separator, ',')) {
        Next();
        if (IsSymbol(Peek(), ')')) {
          return Error(separator.location, "trailing ',' before ')' in the option list");
        }
      } else if (IsSymbol(separator, ')')) {
        Next();
        return arrow::Status::OK();
      } else {
        return Unexpected(separator, "',' or ')' after the value of option '" + key_text + "'");
      }
    }
  }

  // 'text' (with ${VAR} substitution) | number | -number | true | false
  arrow::Status ParseOptionValue(OptionDef* option) {
    const Token& token = Peek();
    option->value_location = token.location;
    const std::string what = "a value for option '" + option->key + "' (a quoted string, a number, true or false)";
    if (token.kind == TokenKind::kString) {
      Next();
      ARROW_ASSIGN_OR_RAISE(option->value, ExpandValue(token));
      return arrow::Status::OK();
    }
    if (token.kind == TokenKind::kIdent) {
      if (!EqualsIgnoreCase(token.text, "true") && !EqualsIgnoreCase(token.text, "false")) {
        return Error(token.location,
                     "expected " + what + ", found '" + token.text + "'; quote text values: '" + token.text + "'");
      }
      Next();
      option->value = Lower(token.text);
      return arrow::Status::OK();
    }
    std::string sign;
    size_t number_at = 0;
    if (IsSymbol(token, '-') && Peek(1).kind == TokenKind::kNumber && Peek(1).begin == token.end) {
      sign = "-";
      number_at = 1;
    }
    const Token& number = Peek(number_at);
    if (number.kind != TokenKind::kNumber) return Unexpected(token, what);
    // 10s or 5m would otherwise fail later with a puzzling "found 's'".
    const Token& after = Peek(number_at + 1);
    if (after.kind == TokenKind::kIdent && after.begin == number.end) {
      const std::string raw = script_->text.substr(token.begin, after.end - token.begin);
      return Error(token.location, "bare value " + raw + " is not a number; quote it: '" + raw + "'");
    }
    for (size_t i = 0; i <= number_at; ++i) Next();
    option->value = sign + number.text;
    return arrow::Status::OK();
  }

  // The value of a '...' token with '' unescaped and ${NAME} / ${NAME:-default} replaced.
  // Walks the raw text (not the unescaped one) so that an error can point at its '$'.
  arrow::Result<std::string> ExpandValue(const Token& token) {
    const std::string& text = script_->text;
    const size_t end = token.end - 1;  // the closing quote
    size_t pos = token.begin + 1;
    SourceLocation here{token.location.line, token.location.column + 1};
    auto advance = [&](size_t count) {
      for (size_t i = 0; i < count; ++i, ++pos) {
        if (text[pos] == '\n') {
          ++here.line;
          here.column = 1;
        } else if (!IsContinuationByte(text[pos])) {
          ++here.column;
        }
      }
    };
    std::string out;
    while (pos < end) {
      const char c = text[pos];
      if (c == '\'') {  // the lexer guarantees a doubled quote here
        out += '\'';
        advance(2);
      } else if (c == '$' && text.compare(pos, 3, "$${") == 0 && pos + 3 <= end) {
        out += "${";
        advance(3);
      } else if (c == '$' && pos + 1 < end && text[pos + 1] == '{') {
        const SourceLocation dollar = here;
        const size_t close = text.find('}', pos + 2);
        if (close == std::string::npos || close >= end) {
          return Error(dollar, "unterminated '${' in the value of option: expected '}'");
        }
        ARROW_ASSIGN_OR_RAISE(std::string value,
                              Substitute(std::string_view(text).substr(pos + 2, close - pos - 2), dollar));
        out += value;
        advance(close + 1 - pos);
      } else {
        out += c;
        advance(1);
      }
    }
    return out;
  }

  // The body of ${...}: NAME or NAME:-default.
  arrow::Result<std::string> Substitute(std::string_view body, SourceLocation dollar) {
    std::string_view name = body;
    std::optional<std::string> fallback;
    if (const size_t split = body.find(":-"); split != std::string_view::npos) {
      name = body.substr(0, split);
      fallback.emplace();
      // The default is raw file text, so a quote in it is still written ''.
      const std::string_view raw = body.substr(split + 2);
      for (size_t i = 0; i < raw.size(); ++i) {
        *fallback += raw[i];
        if (raw[i] == '\'') ++i;
      }
    }
    const bool valid = !name.empty() && IsIdentStart(name[0]) && std::all_of(name.begin(), name.end(), IsIdentChar);
    if (!valid) {
      return Error(dollar,
                   "invalid variable reference '${" + std::string(body) + "}': expected ${NAME} or ${NAME:-default}");
    }
    std::optional<std::string> value = env_(std::string(name));
    // As in the shell, ':-' also replaces a variable that is set but empty.
    if (fallback && (!value || value->empty())) return *fallback;
    if (!value) {
      return Error(dollar, "environment variable " + std::string(name) + " is not set (write ${" + std::string(name) +
                               ":-default} to give a default)");
    }
    return *value;
  }

  // [FORMAT name] then ';' or the end of the file.
  arrow::Status ParseFormatAndEnd(std::vector<OptionDef>* options) {
    bool has_format = false;
    if (IsKeyword(Peek(), "FORMAT")) {
      const Token& keyword = Next();
      for (const OptionDef& other : *options) {
        if (other.key == "format") {
          return Error(keyword.location,
                       "FORMAT given, but option 'format' is already set at " + Position(other.key_location));
        }
      }
      OptionDef option;
      option.key = "format";
      option.key_location = keyword.location;
      option.value_location = Peek().location;
      if (Peek().kind == TokenKind::kString) {
        ARROW_ASSIGN_OR_RAISE(option.value, ExpandValue(Next()));
      } else if (Peek().kind == TokenKind::kQuotedIdent) {
        option.value = Next().text;
      } else {
        // Format names are names like connectors: FORMAT JSON is "json".
        ARROW_ASSIGN_OR_RAISE(Name name, ParseCompoundName("a format name after FORMAT", "-"));
        option.value = Lower(name.text);
      }
      options->push_back(std::move(option));
      has_format = true;
    }
    const Token& token = Peek();
    if (IsSymbol(token, ';')) {
      Next();
      return arrow::Status::OK();
    }
    if (token.kind == TokenKind::kEnd) return arrow::Status::OK();
    return Unexpected(token, has_format ? "';' after the statement" : "FORMAT or ';' after the option list");
  }

  // Sinks may name a source declared later in the file, so this runs after parsing.
  arrow::Status ResolveSinkInputs() {
    for (SinkDef& sink : script_->sinks) {
      const SourceDef* input = nullptr;
      for (const SourceDef& source : script_->sources) {
        if (EqualsIgnoreCase(source.name, sink.from)) input = &source;
      }
      if (input == nullptr) {
        std::string message = "sink '" + sink.name + "' reads from unknown source '" + sink.from + "'";
        if (script_->sources.empty()) {
          message += "; the file declares no sources";
        } else {
          message += "; declared sources:";
          for (const SourceDef& source : script_->sources) message += " " + source.name;
        }
        return Error(sink.from_location, message);
      }
      sink.from = input->name;
    }
    return arrow::Status::OK();
  }

  Script* script_;
  EnvLookup env_;
  std::vector<Token> tokens_;
  arrow::Status lex_error_;
  size_t pos_ = 0;
};

}  // namespace

arrow::Result<Script> ParseScript(std::string text, std::string file_name, EnvLookup env) {
  Script script;
  script.file_name = std::move(file_name);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  script.text = std::move(text);
  if (!env) env = ProcessEnv;

  arrow::Status lex_error;
  std::vector<Token> tokens = Lexer(script.file_name, script.text).Tokenize(&lex_error);
  Parser parser(&script, std::move(env), std::move(tokens), std::move(lex_error));
  ARROW_RETURN_NOT_OK(parser.Run());
  return script;
}

arrow::Result<Script> ParseFile(const std::string& path, EnvLookup env) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    return ConfigError(path, std::string("cannot read the DDL file: ") + std::strerror(errno));
  }
  std::string text;
  char buffer[1 << 16];
  size_t count;
  while ((count = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    text.append(buffer, count);
  }
  if (std::ferror(file.get())) {
    // Reading a directory gets this far: fopen succeeds, fread fails with EISDIR.
    return ConfigError(path, std::string("cannot read the DDL file: ") + std::strerror(errno));
  }
  return ParseScript(std::move(text), path, std::move(env));
}

std::shared_ptr<arrow::Schema> SchemaOf(const SourceDef& source) {
  if (source.columns.empty()) return nullptr;
  arrow::FieldVector fields;
  fields.reserve(source.columns.size());
  for (const ColumnDef& column : source.columns) {
    fields.push_back(arrow::field(column.name, column.type, column.nullable, column.metadata));
  }
  return arrow::schema(std::move(fields));
}

namespace {

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-' || c == '*';
}

// The source line of an error excerpt with the value of every secret option on it
// (`'sasl.password' = '...'`, IsSecretKey) starred out, one '*' per character so that the
// caret still lines up; a value that goes on past the line is starred to its end.
std::string MaskSecretValues(std::string_view line) {
  std::string out(line);
  size_t i = 0;
  while (i < out.size()) {
    // The next key: a quoted string or a bare word.
    std::string key;
    if (out[i] == '\'' || out[i] == '"') {
      const char quote = out[i];
      size_t j = i + 1;
      while (j < out.size() && out[j] != quote) ++j;
      key = out.substr(i + 1, j - i - 1);
      i = j + 1;
    } else if (IsKeyChar(out[i])) {
      size_t j = i;
      while (j < out.size() && IsKeyChar(out[j])) ++j;
      key = out.substr(i, j - i);
      i = j;
    } else {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && (out[j] == ' ' || out[j] == '\t')) ++j;
    if (j >= out.size() || out[j] != '=' || !IsSecretKey(key)) continue;
    ++j;
    while (j < out.size() && (out[j] == ' ' || out[j] == '\t')) ++j;
    if (j >= out.size() || out[j] != '\'') continue;
    // The value, with '' as an escaped quote inside it.
    std::string masked;
    size_t k = j + 1;
    for (; k < out.size(); ++k) {
      if (out[k] == '\'') {
        if (k + 1 < out.size() && out[k + 1] == '\'') {
          masked += "**";
          ++k;
          continue;
        }
        break;
      }
      if (!IsContinuationByte(out[k])) masked += '*';
    }
    out.replace(j + 1, k - j - 1, masked);
    i = j + 1 + masked.size() + 1;
  }
  return out;
}

}  // namespace

arrow::Status ErrorAt(const Script& script, SourceLocation location, const std::string& message) {
  return ErrorAt(script.file_name, script.text, location, message);
}

arrow::Status ErrorAt(const std::string& file_name, std::string_view text, SourceLocation location,
                      const std::string& message) {
  const std::string where = (file_name.empty() ? std::string("<input>") : file_name) + ":" +
                            std::to_string(location.line) + ":" + std::to_string(location.column);
  std::string detail = message;
  // Find the line; a location outside the text just gets no excerpt.
  size_t start = 0;
  for (int line = 1; line < location.line && start != std::string_view::npos; ++line) {
    start = text.find('\n', start);
    if (start != std::string_view::npos) ++start;
  }
  if (location.line >= 1 && location.column >= 1 && start != std::string_view::npos) {
    const size_t stop = text.find('\n', start);
    std::string_view raw = text.substr(start, stop == std::string_view::npos ? stop : stop - start);
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    const std::string line = MaskSecretValues(raw);
    std::string caret;
    int column = 1;
    for (size_t i = 0; i < line.size() && column < location.column; ++i) {
      if (IsContinuationByte(line[i])) continue;
      caret += line[i] == '\t' ? '\t' : ' ';
      ++column;
    }
    if (column < location.column) caret.append(static_cast<size_t>(location.column - column), ' ');
    detail += "\n  " + line + "\n  " + caret + "^";
  }
  return ConfigError(where, detail);
}

}  // namespace laminar::ddl
