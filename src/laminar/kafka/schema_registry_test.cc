// Unit tests of the schema registry client and its options, without a registry: the HTTP
// transport is a fake that records each request and answers from a script.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <thread>

#include "laminar/core/status.h"
#include "laminar/kafka/kafka_avro_registry.h"
#include "laminar/kafka/kafka_sink_options.h"
#include "laminar/kafka/kafka_source_options.h"
#include "laminar/kafka/schema_registry.h"

namespace laminar::kafka {
namespace {

using Properties = std::map<std::string, std::string>;

// Answers requests from `answers` in order; a request past the end fails the test.
struct FakeRegistry {
  std::deque<arrow::Result<HttpResponse>> answers;
  std::vector<HttpRequest> requests;

  HttpTransport Transport() {
    return [this](const HttpRequest& request) -> arrow::Result<HttpResponse> {
      requests.push_back(request);
      if (answers.empty()) {
        ADD_FAILURE() << "unexpected request " << request.method << " " << request.url;
        return arrow::Status::Invalid("no answer scripted");
      }
      auto answer = answers.front();
      answers.pop_front();
      return answer;
    };
  }
  void Answer(long status, std::string body) { answers.push_back(HttpResponse{status, std::move(body)}); }
};

SchemaRegistryOptions Options() {
  SchemaRegistryOptions o;
  o.url = "http://registry:8081/apis/ccompat/v7";
  o.retry_pause = std::chrono::milliseconds(0);
  return o;
}

ConnectorConfig Config(const std::vector<ConfigKeySpec>& specs, Properties properties, arrow::Status* validated) {
  ConnectorConfig config("kafka", std::move(properties));
  config.set_instance_name("x");
  *validated = config.Validate(specs);
  return config;
}

arrow::Status SourceOptionsStatus(Properties properties) {
  properties.emplace("bootstrap.servers", "b:9092");
  properties.emplace("group.id", "g");
  properties.emplace("topic", "orders");
  arrow::Status validated;
  auto config = Config(KafkaSourceKeySpecs(), std::move(properties), &validated);
  if (!validated.ok()) return validated;
  return KafkaSourceOptions::FromConfig(config).status();
}

arrow::Result<KafkaSinkOptions> SinkOptions(Properties properties) {
  properties.emplace("bootstrap.servers", "b:9092");
  properties.emplace("topic", "orders");
  arrow::Status validated;
  auto config = Config(KafkaSinkKeySpecs(), std::move(properties), &validated);
  ARROW_RETURN_NOT_OK(validated);
  return KafkaSinkOptions::FromConfig(config);
}

// --- subject names and URLs --------------------------------------------------------------------

TEST(SubjectStrategyTest, NamesTheSubjectLikeConfluentSerializers) {
  EXPECT_EQ(SubjectName(SubjectStrategy::kTopicName, "orders", "com.acme.Order"), "orders-value");
  EXPECT_EQ(SubjectName(SubjectStrategy::kRecordName, "orders", "com.acme.Order"), "com.acme.Order");
  EXPECT_EQ(SubjectName(SubjectStrategy::kTopicRecordName, "orders", "com.acme.Order"), "orders-com.acme.Order");
  EXPECT_EQ(ParseSubjectStrategy("topic_name"), SubjectStrategy::kTopicName);
  EXPECT_EQ(ParseSubjectStrategy("Record-Name"), SubjectStrategy::kRecordName);
  EXPECT_EQ(ParseSubjectStrategy("TopicRecordNameStrategy"), SubjectStrategy::kTopicRecordName);
  EXPECT_EQ(ParseSubjectStrategy("topic"), std::nullopt);
}

TEST(SubjectStrategyTest, SinkSubjectTakesTheOverrideThenTheStrategy) {
  ConnectorConfig config("kafka", {{"topic", "orders"}});
  EXPECT_EQ(*SinkSubject(config, "com.acme.Order"), "orders-value");
  config.Set("schema.registry.subject.strategy", "topic_record_name");
  EXPECT_EQ(*SinkSubject(config, "com.acme.Order"), "orders-com.acme.Order");
  // A record-name strategy needs a record to name the subject after.
  auto no_record = SinkSubject(config, "");
  ASSERT_FALSE(no_record.ok());
  EXPECT_NE(no_record.status().message().find("schema.registry.subject.strategy"), std::string::npos);
  config.Set("schema.registry.subject", "shared-subject");
  EXPECT_EQ(*SinkSubject(config, "com.acme.Order"), "shared-subject");
  config.Set("schema.registry.subject", "");
  EXPECT_FALSE(SinkSubject(config, "com.acme.Order").ok());
}

TEST(SchemaRegistryUrlTest, SubjectsStayOnePathSegment) {
  EXPECT_EQ(EscapePathSegment("orders-value"), "orders-value");
  EXPECT_EQ(EscapePathSegment("com.acme_x~1"), "com.acme_x~1");
  EXPECT_EQ(EscapePathSegment("a b/c?d%e#f"), "a%20b%2Fc%3Fd%25e%23f");
  EXPECT_EQ(EscapePathSegment("caf\xC3\xA9"), "caf%C3%A9");

  FakeRegistry fake;
  fake.Answer(200, R"({"id": 7})");
  SchemaRegistryClient client(Options(), fake.Transport());
  ASSERT_EQ(*client.Register("my topic/x-value", R"("string")"), 7);
  ASSERT_EQ(fake.requests.size(), 1u);
  EXPECT_EQ(fake.requests[0].url, "http://registry:8081/apis/ccompat/v7/subjects/my%20topic%2Fx-value/versions");
}

// --- masking ------------------------------------------------------------------------------------

TEST(SchemaRegistryMaskTest, PasswordsNeverAppearInMessages) {
  SchemaRegistryOptions o = Options();
  o.username = "alice";
  o.password = "s3cr3t!";
  FakeRegistry fake;
  // A registry (or proxy) that echoes the credentials it was sent.
  fake.Answer(401, R"j({"error_code": 40101, "message": "bad credentials alice:s3cr3t! (YWxpY2U6czNjcjN0IQ==)"})j");
  SchemaRegistryClient client(o, fake.Transport());
  auto result = client.SchemaById(1);
  ASSERT_FALSE(result.ok());
  const std::string text = result.status().ToString();
  EXPECT_EQ(text.find("s3cr3t!"), std::string::npos) << text;
  EXPECT_EQ(text.find("YWxpY2U6czNjcjN0IQ=="), std::string::npos) << text;
  EXPECT_NE(text.find("bad credentials alice:***"), std::string::npos) << text;
  EXPECT_NE(text.find("as user 'alice'"), std::string::npos) << text;
  EXPECT_EQ(KindOf(result.status()), ErrorKind::kFatal);

  o.url = "https://bob:pw@registry:8081/base";
  EXPECT_EQ(o.DisplayUrl(), "https://***@registry:8081/base");
  o.url = "https://registry:8081/a@b";
  EXPECT_EQ(o.DisplayUrl(), "https://registry:8081/a@b");

  // The config's own display masks the password key.
  arrow::Status validated;
  auto config = Config(KafkaSinkKeySpecs(),
                       {{"bootstrap.servers", "b:9092"},
                        {"topic", "t"},
                        {"schema.registry.url", "http://r:1"},
                        {"schema.registry.username", "alice"},
                        {"schema.registry.password", "s3cr3t!"}},
                       &validated);
  ASSERT_TRUE(validated.ok()) << validated.ToString();
  EXPECT_EQ(config.DisplayRedacted().find("s3cr3t!"), std::string::npos);
}

// --- options -----------------------------------------------------------------------------------

TEST(SchemaRegistryOptionsTest, ParsesEveryKey) {
  arrow::Status validated;
  auto config = Config(SchemaRegistryKeySpecs(),
                       {{"schema.registry.url", "https://r:8081/apis/ccompat/v7//"},
                        {"schema.registry.username", "u"},
                        {"schema.registry.password", "p"},
                        {"schema.registry.ssl.ca.location", "/ca.pem"},
                        {"schema.registry.ssl.certificate.location", "/cert.pem"},
                        {"schema.registry.ssl.key.location", "/key.pem"},
                        {"schema.registry.timeout.ms", "1500"},
                        {"schema.compatibility", "full_transitive"}},
                       &validated);
  ASSERT_TRUE(validated.ok()) << validated.ToString();
  auto o = SchemaRegistryOptions::FromConfig(config);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_TRUE(o->has_value());
  EXPECT_EQ((*o)->url, "https://r:8081/apis/ccompat/v7");
  EXPECT_EQ((*o)->username, "u");
  EXPECT_EQ((*o)->password, "p");
  EXPECT_EQ((*o)->ca_location, "/ca.pem");
  EXPECT_EQ((*o)->certificate_location, "/cert.pem");
  EXPECT_EQ((*o)->key_location, "/key.pem");
  EXPECT_EQ((*o)->timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ((*o)->compatibility, Compatibility::kFullTransitive);

  auto none = SchemaRegistryOptions::FromConfig(ConnectorConfig("kafka", {}));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(SchemaRegistryOptionsTest, RefusesHalfConfigurations) {
  auto expect_error = [](Properties properties, const std::string& needle) {
    auto result = SchemaRegistryOptions::FromConfig(ConnectorConfig("kafka", std::move(properties)));
    ASSERT_FALSE(result.ok()) << needle;
    EXPECT_NE(result.status().message().find(needle), std::string::npos) << result.status().ToString();
    EXPECT_EQ(KindOf(result.status()), ErrorKind::kConfig);
  };
  expect_error({{"schema.registry.url", "http://r"}, {"schema.registry.username", "u"}},
               "'schema.registry.username' needs option 'schema.registry.password'");
  expect_error({{"schema.registry.url", "http://r"}, {"schema.registry.password", "p"}},
               "'schema.registry.password' needs option 'schema.registry.username'");
  expect_error({{"schema.registry.username", "u"}, {"schema.registry.password", "p"}},
               "needs option 'schema.registry.url'");
  expect_error({{"schema.compatibility", "FULL"}}, "'schema.compatibility' needs option 'schema.registry.url'");
  expect_error({{"schema.registry.url", "r:8081"}}, "is not an http:// or https:// URL");
  expect_error({{"schema.registry.url", "http://r"}, {"schema.compatibility", "SOMETIMES"}},
               "'schema.compatibility' = 'SOMETIMES' is not one of NONE, BACKWARD");
  expect_error({{"schema.registry.url", "http://r"}, {"schema.registry.ssl.key.location", "/k.pem"}},
               "needs option 'schema.registry.ssl.certificate.location'");
  for (const char* level :
       {"NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"}) {
    auto parsed = ParseCompatibility(level);
    ASSERT_TRUE(parsed) << level;
    EXPECT_STREQ(CompatibilityName(*parsed), level);
  }
}

TEST(SchemaRegistryOptionsTest, ConfluentAvroNeedsARegistryOrAPinnedSchema) {
  // Source: the writer schemas come from somewhere.
  auto missing = SourceOptionsStatus({{"format", "avro"}, {"format.avro.reader.schema", R"("long")"}});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("option 'schema.registry.url' is required for format avro"), std::string::npos)
      << missing.ToString();
  EXPECT_TRUE(SourceOptionsStatus({{"format", "confluent-avro"}, {"schema.registry.url", "http://r:8081"}}).ok());
  EXPECT_TRUE(SourceOptionsStatus({{"format", "avro"}, {"format.avro.schema", R"("long")"}}).ok());
  EXPECT_TRUE(SourceOptionsStatus({{"format", "avro"}, {"format.avro.wire", "plain"}}).ok());
  EXPECT_TRUE(SourceOptionsStatus({{"format", "json"}}).ok());
  EXPECT_FALSE(SourceOptionsStatus({{"format", "json"}, {"schema.registry.username", "u"}}).ok());

  // Sink: the id it writes comes from the registry unless pinned.
  auto sink_missing = SinkOptions({{"format", "avro"}});
  ASSERT_FALSE(sink_missing.ok());
  EXPECT_NE(sink_missing.status().message().find("'schema.registry.url' is required"), std::string::npos);
  EXPECT_NE(sink_missing.status().message().find("format.avro.schema.id"), std::string::npos);
  EXPECT_TRUE(SinkOptions({{"format", "avro"}, {"format.avro.schema.id", "3"}}).ok());
  auto sink = SinkOptions({{"format", "avro"},
                           {"schema.registry.url", "http://r:8081/"},
                           {"schema.registry.subject.strategy", "record_name"},
                           {"schema.compatibility", "forward"}});
  ASSERT_TRUE(sink.ok()) << sink.status().ToString();
  ASSERT_TRUE(sink->registry.has_value());
  EXPECT_EQ(sink->registry->url, "http://r:8081");
  EXPECT_EQ(sink->subject_strategy, SubjectStrategy::kRecordName);
  EXPECT_EQ(sink->registry->compatibility, Compatibility::kForward);
  auto bad_strategy = SinkOptions({{"schema.registry.url", "http://r"}, {"schema.registry.subject.strategy", "x"}});
  ASSERT_FALSE(bad_strategy.ok());
  EXPECT_NE(bad_strategy.status().message().find("'schema.registry.subject.strategy' = 'x'"), std::string::npos);
  // The subject keys are the sink's only.
  EXPECT_FALSE(SourceOptionsStatus({{"schema.registry.url", "http://r"}, {"schema.registry.subject", "s"}}).ok());
}

// --- requests and error mapping ------------------------------------------------------------------

TEST(SchemaRegistryClientTest, FetchesSchemasByIdOnceEach) {
  FakeRegistry fake;
  fake.Answer(200, R"({"schema": "{\"type\":\"record\",\"name\":\"R\",\"fields\":[]}"})");
  fake.Answer(200, R"({"schema": "\"long\"", "schemaType": "AVRO"})");
  SchemaRegistryClient client(Options(), fake.Transport());
  EXPECT_EQ(*client.SchemaById(5), R"({"type":"record","name":"R","fields":[]})");
  EXPECT_EQ(*client.SchemaById(5), R"({"type":"record","name":"R","fields":[]})");
  EXPECT_EQ(*client.SchemaById(6), R"("long")");
  ASSERT_EQ(fake.requests.size(), 2u);
  EXPECT_EQ(fake.requests[0].method, "GET");
  EXPECT_EQ(fake.requests[0].url, "http://registry:8081/apis/ccompat/v7/schemas/ids/5");
  EXPECT_EQ(fake.requests[0].body, "");
}

TEST(SchemaRegistryClientTest, UnknownIdIsAKeyErrorOtherFailuresAreNot) {
  FakeRegistry fake;
  fake.Answer(404, R"({"error_code": 40403, "message": "Schema not found"})");
  fake.Answer(404, R"({"error_code": 40403, "message": "Schema not found"})");
  SchemaRegistryClient client(Options(), fake.Transport());
  auto missing = client.SchemaById(99);
  ASSERT_TRUE(missing.status().IsKeyError()) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("schema ID 99"), std::string::npos);
  EXPECT_NE(missing.status().message().find("Schema not found"), std::string::npos);
  // Not cached: the id may be registered later.
  EXPECT_TRUE(client.SchemaById(99).status().IsKeyError());
  EXPECT_EQ(fake.requests.size(), 2u);

  // A non-Avro schema cannot be an Avro writer schema.
  fake.Answer(200, R"({"schema": "syntax = \"proto3\";", "schemaType": "PROTOBUF"})");
  auto proto = client.SchemaById(3);
  ASSERT_TRUE(proto.status().IsKeyError());
  EXPECT_NE(proto.status().message().find("PROTOBUF"), std::string::npos);

  // 5xx: retried, then a transient IOError.
  for (int i = 0; i < 3; ++i) fake.Answer(503, "<html>upstream unavailable</html>");
  auto down = client.SchemaById(4);
  ASSERT_TRUE(down.status().IsIOError()) << down.status().ToString();
  EXPECT_TRUE(IsRetryable(down.status()));
  EXPECT_NE(down.status().message().find("HTTP 503"), std::string::npos);
  EXPECT_NE(down.status().message().find("upstream unavailable"), std::string::npos);
  EXPECT_EQ(fake.requests.size(), 6u);

  // No answer at all: retried, then the transport's transient error.
  for (int i = 0; i < 2; ++i) fake.answers.push_back(TransientError("schema-registry", "connection refused"));
  fake.Answer(200, R"({"schema": "\"int\""})");
  EXPECT_EQ(*client.SchemaById(8), R"("int")");
  for (int i = 0; i < 3; ++i) fake.answers.push_back(TransientError("schema-registry", "connection refused"));
  auto refused = client.SchemaById(9);
  ASSERT_TRUE(refused.status().IsIOError());
  EXPECT_FALSE(refused.status().IsKeyError());

  // An answer that is not the registry's JSON.
  fake.Answer(200, "not json");
  auto garbage = client.SchemaById(10);
  ASSERT_FALSE(garbage.ok());
  EXPECT_FALSE(garbage.status().IsKeyError());
  EXPECT_NE(garbage.status().message().find("not a JSON object"), std::string::npos);
}

TEST(SchemaRegistryClientTest, RegistersOncePerSubjectAndSchema) {
  FakeRegistry fake;
  fake.Answer(200, R"({"id": 11})");
  fake.Answer(200, R"({"id": 12})");
  fake.Answer(200, R"({"id": 13})");
  SchemaRegistryClient client(Options(), fake.Transport());
  EXPECT_EQ(*client.Register("orders-value", R"("long")"), 11);
  EXPECT_EQ(*client.Register("orders-value", R"("long")"), 11);
  EXPECT_EQ(*client.Register("orders-value", R"("string")"), 12);  // a changed schema is registered again
  EXPECT_EQ(*client.Register("other-value", R"("long")"), 13);
  ASSERT_EQ(fake.requests.size(), 3u);
  EXPECT_EQ(fake.requests[0].method, "POST");
  EXPECT_EQ(fake.requests[0].url, "http://registry:8081/apis/ccompat/v7/subjects/orders-value/versions");
  EXPECT_EQ(fake.requests[0].body, R"({"schema":"\"long\""})");
  // The registered schema answers its id without a request.
  EXPECT_EQ(*client.SchemaById(12), R"("string")");
  EXPECT_EQ(fake.requests.size(), 3u);
}

TEST(SchemaRegistryClientTest, RefusalsNameTheSubjectAndQuoteTheRegistry) {
  FakeRegistry fake;
  fake.Answer(409, R"({"error_code": 409, "message": "Incompatible schema: field id changed type"})");
  fake.Answer(422, R"({"error_code": 42201, "message": "Invalid schema"})");
  SchemaRegistryClient client(Options(), fake.Transport());
  auto incompatible = client.Register("orders-value", R"("long")");
  ASSERT_TRUE(incompatible.status().IsInvalid());
  EXPECT_NE(incompatible.status().message().find("subject 'orders-value' as incompatible"), std::string::npos)
      << incompatible.status().ToString();
  EXPECT_NE(incompatible.status().message().find("Incompatible schema: field id changed type"), std::string::npos);
  auto invalid = client.Register("orders-value", R"("long")");
  ASSERT_TRUE(invalid.status().IsInvalid());
  EXPECT_NE(invalid.status().message().find("subject 'orders-value' as invalid (HTTP 422): Invalid schema"),
            std::string::npos)
      << invalid.status().ToString();
}

TEST(SchemaRegistryClientTest, CompatibilityCheckBeforeRegistration) {
  FakeRegistry fake;
  // First version: the subject does not exist yet.
  fake.Answer(404, R"({"error_code": 40401, "message": "Subject not found"})");
  fake.Answer(200, R"({"id": 1})");
  // Compatible second version.
  fake.Answer(200, R"({"is_compatible": true})");
  fake.Answer(200, R"({"id": 2})");
  // Incompatible third: never registered.
  fake.Answer(200, R"({"is_compatible": false, "messages": ["reader field 'id' type changed", "x removed"]})");
  SchemaRegistryClient client(Options(), fake.Transport());
  EXPECT_EQ(*client.CheckAndRegister("a b", "v1"), 1);
  EXPECT_EQ(*client.CheckAndRegister("a b", "v1"), 1);  // cached: no request
  EXPECT_EQ(*client.CheckAndRegister("a b", "v2"), 2);
  auto refused = client.CheckAndRegister("a b", "v3");
  ASSERT_TRUE(refused.status().IsInvalid());
  EXPECT_NE(refused.status().message().find("subject 'a b' incompatible with its latest version: reader field 'id' "
                                            "type changed; x removed"),
            std::string::npos)
      << refused.status().ToString();
  // Apicurio's form: one "reason".
  fake.Answer(200, R"({"is_compatible": false, "reason": "Incompatible artifact: x at /fields/1"})");
  auto apicurio = client.CheckAndRegister("a b", "v4");
  ASSERT_TRUE(apicurio.status().IsInvalid());
  EXPECT_NE(apicurio.status().message().find("latest version: Incompatible artifact: x at /fields/1"),
            std::string::npos)
      << apicurio.status().ToString();
  ASSERT_EQ(fake.requests.size(), 6u);
  EXPECT_EQ(fake.requests[0].method, "POST");
  EXPECT_EQ(fake.requests[0].url,
            "http://registry:8081/apis/ccompat/v7/compatibility/subjects/a%20b/versions/latest?verbose=true");
  EXPECT_EQ(fake.requests[0].body, R"({"schema":"v1"})");
  EXPECT_EQ(fake.requests[1].url, "http://registry:8081/apis/ccompat/v7/subjects/a%20b/versions");
}

TEST(SchemaRegistryClientTest, SetsTheSubjectsCompatibilityLevel) {
  FakeRegistry fake;
  fake.Answer(200, R"({"compatibility": "FULL_TRANSITIVE"})");
  fake.Answer(403, R"({"message": "forbidden"})");
  SchemaRegistryClient client(Options(), fake.Transport());
  ASSERT_TRUE(client.SetCompatibility("orders-value", Compatibility::kFullTransitive).ok());
  EXPECT_EQ(fake.requests[0].method, "PUT");
  EXPECT_EQ(fake.requests[0].url, "http://registry:8081/apis/ccompat/v7/config/orders-value");
  EXPECT_EQ(fake.requests[0].body, R"({"compatibility":"FULL_TRANSITIVE"})");
  auto forbidden = client.SetCompatibility("orders-value", Compatibility::kNone);
  ASSERT_FALSE(forbidden.ok());
  EXPECT_EQ(KindOf(forbidden), ErrorKind::kFatal);
  EXPECT_NE(forbidden.message().find("HTTP 403: forbidden (no credentials were sent)"), std::string::npos)
      << forbidden.ToString();
}

TEST(SchemaRegistryClientTest, StatusOfMapsEveryClassOfAnswer) {
  SchemaRegistryClient client(
      Options(), [](const HttpRequest&) -> arrow::Result<HttpResponse> { return arrow::Status::Invalid("unused"); });
  EXPECT_TRUE(client.StatusOf("x", {404, ""}).IsKeyError());
  EXPECT_TRUE(client.StatusOf("x", {409, ""}).IsInvalid());
  EXPECT_TRUE(client.StatusOf("x", {422, ""}).IsInvalid());
  EXPECT_EQ(KindOf(client.StatusOf("x", {401, ""})), ErrorKind::kFatal);
  EXPECT_EQ(KindOf(client.StatusOf("x", {400, ""})), ErrorKind::kFatal);
  EXPECT_EQ(KindOf(client.StatusOf("x", {429, ""})), ErrorKind::kTransient);
  EXPECT_EQ(KindOf(client.StatusOf("x", {502, ""})), ErrorKind::kTransient);
  EXPECT_NE(client.StatusOf("x", {500, ""}).message().find("x: HTTP 500: (empty answer)"), std::string::npos);
  const std::string page(1000, 'p');
  EXPECT_LT(client.StatusOf("x", {500, page}).message().size(), 400u);  // a proxy's page is not quoted whole
}

// --- libcurl on the wire --------------------------------------------------------------------------

// One HTTP exchange on a loopback socket: records the request's bytes, sends `answer`.
class OneShotServer {
 public:
  explicit OneShotServer(std::string answer) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
    EXPECT_EQ(listen(listener_, 1), 0);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this, answer = std::move(answer)] {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      char buffer[4096];
      while (true) {
        const size_t head = request_.find("\r\n\r\n");
        if (head != std::string::npos) {
          const size_t at = request_.find("Content-Length: ");
          const size_t body = at == std::string::npos || at > head ? 0 : std::stoul(request_.substr(at + 16));
          if (request_.size() >= head + 4 + body) break;
        }
        const ssize_t n = read(connection, buffer, sizeof(buffer));
        if (n <= 0) break;
        request_.append(buffer, static_cast<size_t>(n));
      }
      (void)!write(connection, answer.data(), answer.size());
      close(connection);
    });
  }
  ~OneShotServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/apis/ccompat/v7"; }
  // Valid once the client has its answer.
  const std::string& request() const { return request_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::string request_;
  std::thread thread_;
};

TEST(SchemaRegistryCurlTest, SendsTheRegistryMediaTypeAndBasicAuth) {
  const std::string body = R"({"id": 42})";
  OneShotServer server("HTTP/1.1 200 OK\r\nContent-Type: application/vnd.schemaregistry.v1+json\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  SchemaRegistryOptions o = Options();
  o.url = server.url();
  o.username = "alice";
  o.password = "s3cr3t!";
  o.timeout = std::chrono::milliseconds(5000);
  SchemaRegistryClient client(o);
  auto id = client.Register("orders value", R"("long")");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, 42);
  const std::string& request = server.request();
  EXPECT_EQ(request.rfind("POST /apis/ccompat/v7/subjects/orders%20value/versions HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("Accept: application/vnd.schemaregistry.v1+json"), std::string::npos) << request;
  EXPECT_NE(request.find("Content-Type: application/vnd.schemaregistry.v1+json"), std::string::npos) << request;
  EXPECT_NE(request.find("Authorization: Basic YWxpY2U6czNjcjN0IQ=="), std::string::npos) << request;
  EXPECT_NE(request.find(R"({"schema":"\"long\""})"), std::string::npos) << request;
}

TEST(SchemaRegistryCurlTest, NoAnswerIsATransientErrorAfterRetries) {
  int port = 0;
  {
    OneShotServer closed("");  // a port that was free a moment ago and is closed now
    port = std::stoi(closed.url().substr(std::string("http://127.0.0.1:").size()));
  }
  SchemaRegistryOptions o = Options();
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.timeout = std::chrono::milliseconds(2000);
  SchemaRegistryClient client(o);
  auto result = client.SchemaById(1);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsIOError()) << result.status().ToString();
  EXPECT_FALSE(result.status().IsKeyError());
  EXPECT_TRUE(IsRetryable(result.status()));
  EXPECT_NE(result.status().message().find("no answer"), std::string::npos) << result.status().ToString();
}

}  // namespace
}  // namespace laminar::kafka
