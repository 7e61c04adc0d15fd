// Schema evolution guard for protocols/feed/v1/feed.proto (docs/FEED_SCHEMA.md).
//
// Billing systems keep decoding old bytes with new code and new bytes with old code, so a field's
// number and type are a promise. The pinned tables below are that promise: every field that ever
// shipped in headend.feed.v1 is listed once with its number, type, cardinality and (for enum and
// message fields) the type it refers to. The tests read the compiled descriptors and fail when
//   - a pinned field changed number, type, cardinality, presence or referenced type;
//   - a pinned field disappeared without its number AND name being `reserved`;
//   - a field exists that is not pinned (add it to the table in the same change: adding is allowed);
//   - an enum value changed number, or an enum's zero value is not *_UNSPECIFIED.
// To remove a field: delete it from the .proto, add `reserved <number>; reserved "<name>";`, and
// mark it `removed` here (never delete the row).
#include <catch2/catch.hpp>

#include <google/protobuf/descriptor.h>

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "feed/v1/feed.pb.h"

namespace {

namespace pb = google::protobuf;
using Type = pb::FieldDescriptor::Type;

enum class Card { singular, optional, repeated };  // optional = proto3 explicit presence

struct PinnedField {
  std::string_view message;   // full name without the package, e.g. "IntervalReading"
  std::string_view name;
  int number;
  Type type;
  Card card;
  std::string_view refers_to = {};  // enum or message type (without package) for enum/message fields
  bool removed = false;             // removed from the .proto: number and name must be reserved
};

constexpr std::string_view kPackage = "headend.feed.v1";

// clang-format off
const std::vector<PinnedField> kPinnedFields = {
  {"IntervalReading", "sequence",           1,  Type::TYPE_UINT64, Card::singular},
  {"IntervalReading", "meter_id",           2,  Type::TYPE_STRING, Card::singular},
  {"IntervalReading", "usage_point",        3,  Type::TYPE_STRING, Card::singular},
  {"IntervalReading", "kind",               4,  Type::TYPE_ENUM,   Card::singular, "ReadingKind"},
  {"IntervalReading", "reading_type_cim",   5,  Type::TYPE_STRING, Card::singular},
  {"IntervalReading", "start_unix",         6,  Type::TYPE_INT64,  Card::singular},
  {"IntervalReading", "end_unix",           7,  Type::TYPE_INT64,  Card::singular},
  {"IntervalReading", "value_wh",           8,  Type::TYPE_INT64,  Card::singular},
  {"IntervalReading", "register_start_wh",  9,  Type::TYPE_INT64,  Card::optional},
  {"IntervalReading", "register_end_wh",    10, Type::TYPE_INT64,  Card::optional},
  {"IntervalReading", "status",             11, Type::TYPE_ENUM,   Card::singular, "IntervalStatus"},
  {"IntervalReading", "quality_codes",      12, Type::TYPE_STRING, Card::repeated},
  {"IntervalReading", "estimation_method",  13, Type::TYPE_ENUM,   Card::singular, "EstimationMethod"},
  {"IntervalReading", "version",            14, Type::TYPE_UINT32, Card::singular},
  {"IntervalReading", "idempotency_key",    15, Type::TYPE_STRING, Card::singular},
  {"IntervalReading", "collected_unix_ms",  16, Type::TYPE_INT64,  Card::singular},
  {"IntervalReading", "source",             17, Type::TYPE_ENUM,   Card::singular, "ReadSource"},

  {"IntervalBatch", "daemon_id",            1,  Type::TYPE_STRING, Card::singular},
  {"IntervalBatch", "sequence",             2,  Type::TYPE_UINT64, Card::singular},
  {"IntervalBatch", "intervals",            3,  Type::TYPE_MESSAGE, Card::repeated, "IntervalReading"},
  {"IntervalBatch", "published_unix_ms",    4,  Type::TYPE_INT64,  Card::singular},

  {"Subscribe", "consumer",                 1,  Type::TYPE_STRING, Card::singular},
  {"Subscribe", "token",                    2,  Type::TYPE_STRING, Card::singular},
  {"Subscribe", "from_cursor",              3,  Type::TYPE_BOOL,   Card::singular},  // oneof resume
  {"Subscribe", "from_sequence",            4,  Type::TYPE_UINT64, Card::singular},  // oneof resume
  {"Subscribe", "from_time_unix",           5,  Type::TYPE_INT64,  Card::singular},  // oneof resume
  {"Subscribe", "max_unacked_batches",      6,  Type::TYPE_UINT32, Card::singular},

  {"Ack", "sequence",                       1,  Type::TYPE_UINT64, Card::singular},

  {"ClientMessage", "subscribe",            1,  Type::TYPE_MESSAGE, Card::singular, "Subscribe"},
  {"ClientMessage", "ack",                  2,  Type::TYPE_MESSAGE, Card::singular, "Ack"},

  {"Subscribed", "daemon_id",               1,  Type::TYPE_STRING, Card::singular},
  {"Subscribed", "resume_sequence",         2,  Type::TYPE_UINT64, Card::singular},
  {"Subscribed", "head_sequence",           3,  Type::TYPE_UINT64, Card::singular},

  {"Error", "code",                         1,  Type::TYPE_ENUM,   Card::singular, "Error.Code"},
  {"Error", "message",                      2,  Type::TYPE_STRING, Card::singular},

  {"Heartbeat", "head_sequence",            1,  Type::TYPE_UINT64, Card::singular},
  {"Heartbeat", "server_unix_ms",           2,  Type::TYPE_INT64,  Card::singular},

  {"ServerMessage", "subscribed",           1,  Type::TYPE_MESSAGE, Card::singular, "Subscribed"},
  {"ServerMessage", "batch",                2,  Type::TYPE_MESSAGE, Card::singular, "IntervalBatch"},
  {"ServerMessage", "error",                3,  Type::TYPE_MESSAGE, Card::singular, "Error"},
  {"ServerMessage", "heartbeat",            4,  Type::TYPE_MESSAGE, Card::singular, "Heartbeat"},
};

// Oneof membership is wire-compatible to change in only narrow ways; pin it too.
struct PinnedOneof {
  std::string_view message;
  std::string_view oneof;
  std::vector<std::string_view> fields;
};
const std::vector<PinnedOneof> kPinnedOneofs = {
  {"Subscribe", "resume", {"from_cursor", "from_sequence", "from_time_unix"}},
  {"ClientMessage", "body", {"subscribe", "ack"}},
  {"ServerMessage", "body", {"subscribed", "batch", "error", "heartbeat"}},
};

struct PinnedEnumValue {
  std::string_view enum_name;  // without the package
  std::string_view value;
  int number;
};
const std::vector<PinnedEnumValue> kPinnedEnumValues = {
  {"ReadingKind", "READING_KIND_UNSPECIFIED", 0},
  {"ReadingKind", "READING_KIND_FORWARD_ACTIVE_ENERGY", 1},
  {"ReadingKind", "READING_KIND_REVERSE_ACTIVE_ENERGY", 2},
  {"IntervalStatus", "INTERVAL_STATUS_UNSPECIFIED", 0},
  {"IntervalStatus", "INTERVAL_STATUS_ACTUAL", 1},
  {"IntervalStatus", "INTERVAL_STATUS_ESTIMATED", 2},
  {"EstimationMethod", "ESTIMATION_METHOD_UNSPECIFIED", 0},
  {"EstimationMethod", "ESTIMATION_METHOD_REGISTER_PRORATED_EVEN", 1},
  {"EstimationMethod", "ESTIMATION_METHOD_REGISTER_PRORATED_SHAPE", 2},
  {"EstimationMethod", "ESTIMATION_METHOD_LINEAR_INTERPOLATION", 3},
  {"EstimationMethod", "ESTIMATION_METHOD_LIKE_DAY", 4},
  {"ReadSource", "READ_SOURCE_UNSPECIFIED", 0},
  {"ReadSource", "READ_SOURCE_SCHEDULED", 1},
  {"ReadSource", "READ_SOURCE_ON_DEMAND", 2},
  {"ReadSource", "READ_SOURCE_BACKFILL", 3},
  {"Error.Code", "CODE_UNSPECIFIED", 0},
  {"Error.Code", "CODE_BAD_REQUEST", 1},
  {"Error.Code", "CODE_UNAUTHORIZED", 2},
  {"Error.Code", "CODE_UNKNOWN_CONSUMER", 3},
  {"Error.Code", "CODE_MESSAGE_TOO_LARGE", 4},
  {"Error.Code", "CODE_INTERNAL", 5},
};
// clang-format on

std::string qualified(std::string_view name) { return std::string(kPackage) + "." + std::string(name); }

const pb::FileDescriptor& feed_file() {
  return *headend::feed::v1::IntervalReading::descriptor()->file();
}

const pb::Descriptor* find_message(std::string_view name) {
  return pb::DescriptorPool::generated_pool()->FindMessageTypeByName(qualified(name));
}

Card cardinality(const pb::FieldDescriptor& field) {
  if (field.is_repeated()) return Card::repeated;
  // proto3 `optional` is a synthetic oneof; real oneof members are singular here.
  if (field.has_optional_keyword()) return Card::optional;
  return Card::singular;
}

bool number_reserved(const pb::Descriptor& message, int number) {
  for (int i = 0; i < message.reserved_range_count(); ++i) {
    const auto* range = message.reserved_range(i);
    if (number >= range->start && number < range->end) return true;  // end is exclusive
  }
  return false;
}

std::vector<const pb::Descriptor*> all_messages() {
  std::vector<const pb::Descriptor*> out;
  std::vector<const pb::Descriptor*> pending;
  const auto& file = feed_file();
  for (int i = 0; i < file.message_type_count(); ++i) pending.push_back(file.message_type(i));
  while (!pending.empty()) {
    const auto* m = pending.back();
    pending.pop_back();
    out.push_back(m);
    for (int i = 0; i < m->nested_type_count(); ++i) pending.push_back(m->nested_type(i));
  }
  return out;
}

std::vector<const pb::EnumDescriptor*> all_enums() {
  std::vector<const pb::EnumDescriptor*> out;
  const auto& file = feed_file();
  for (int i = 0; i < file.enum_type_count(); ++i) out.push_back(file.enum_type(i));
  for (const auto* m : all_messages())
    for (int i = 0; i < m->enum_type_count(); ++i) out.push_back(m->enum_type(i));
  return out;
}

std::string without_package(const std::string& full_name) {
  const auto prefix = std::string(kPackage) + ".";
  REQUIRE(full_name.rfind(prefix, 0) == 0);
  return full_name.substr(prefix.size());
}

}  // namespace

TEST_CASE("feed schema: the package is versioned and proto3", "[feed][schema]") {
  CHECK(feed_file().package() == kPackage);
  CHECK(feed_file().syntax() == pb::FileDescriptor::SYNTAX_PROTO3);
}

TEST_CASE("feed schema: every pinned field keeps its number, type and cardinality", "[feed][schema]") {
  for (const auto& pin : kPinnedFields) {
    INFO(pin.message << "." << pin.name << " = " << pin.number);
    const auto* message = find_message(pin.message);
    REQUIRE(message != nullptr);
    const auto* by_name = message->FindFieldByName(std::string(pin.name));
    if (pin.removed) {
      CHECK(by_name == nullptr);
      CHECK(message->FindFieldByNumber(pin.number) == nullptr);
      CHECK(number_reserved(*message, pin.number));
      CHECK(message->IsReservedName(std::string(pin.name)));
      continue;
    }
    REQUIRE(by_name != nullptr);
    CHECK(by_name->number() == pin.number);
    CHECK(by_name->type() == pin.type);
    CHECK(cardinality(*by_name) == pin.card);
    if (pin.type == Type::TYPE_ENUM) CHECK(by_name->enum_type()->full_name() == qualified(pin.refers_to));
    if (pin.type == Type::TYPE_MESSAGE) CHECK(by_name->message_type()->full_name() == qualified(pin.refers_to));
  }
}

TEST_CASE("feed schema: a removed field's number and name are reserved, never reused", "[feed][schema]") {
  // A field may only disappear from the .proto when the pinned table marks it removed; then its
  // number must not be taken by a new field (checked above) and must be reserved.
  for (const auto* message : all_messages()) {
    const auto name = without_package(message->full_name());
    for (int i = 0; i < message->field_count(); ++i) {
      const auto* field = message->field(i);
      INFO(name << "." << field->name() << " = " << field->number());
      CHECK_FALSE(number_reserved(*message, field->number()));
      CHECK_FALSE(message->IsReservedName(field->name()));
    }
  }
  for (const auto& pin : kPinnedFields) {
    if (pin.removed) continue;
    const auto* message = find_message(pin.message);
    REQUIRE(message != nullptr);
    INFO(pin.message << "." << pin.name << " is pinned but missing: reserve it and mark it removed");
    CHECK(message->FindFieldByNumber(pin.number) != nullptr);
  }
}

TEST_CASE("feed schema: every field in the .proto is pinned (add new ones to the table)", "[feed][schema]") {
  std::set<std::pair<std::string, std::string>> pinned;
  for (const auto& pin : kPinnedFields) pinned.emplace(pin.message, pin.name);
  for (const auto* message : all_messages()) {
    const auto name = without_package(message->full_name());
    for (int i = 0; i < message->field_count(); ++i) {
      const auto* field = message->field(i);
      INFO("unpinned field " << name << "." << field->name() << " = " << field->number()
                             << ": add it to kPinnedFields in " << __FILE__);
      CHECK(pinned.count({name, field->name()}) == 1);
    }
  }
}

TEST_CASE("feed schema: oneof groups keep their members", "[feed][schema]") {
  for (const auto& pin : kPinnedOneofs) {
    INFO(pin.message << " oneof " << pin.oneof);
    const auto* message = find_message(pin.message);
    REQUIRE(message != nullptr);
    const auto* oneof = message->FindOneofByName(std::string(pin.oneof));
    REQUIRE(oneof != nullptr);
    std::set<std::string> actual;
    for (int i = 0; i < oneof->field_count(); ++i) actual.insert(oneof->field(i)->name());
    for (const auto& member : pin.fields) CHECK(actual.count(std::string(member)) == 1);
  }
}

TEST_CASE("feed schema: enum values keep their numbers and zero is *_UNSPECIFIED", "[feed][schema]") {
  for (const auto& pin : kPinnedEnumValues) {
    INFO(pin.enum_name << "." << pin.value);
    const auto* e = pb::DescriptorPool::generated_pool()->FindEnumTypeByName(qualified(pin.enum_name));
    REQUIRE(e != nullptr);
    const auto* v = e->FindValueByName(std::string(pin.value));
    REQUIRE(v != nullptr);
    CHECK(v->number() == pin.number);
  }
  std::set<std::pair<std::string, std::string>> pinned;
  for (const auto& pin : kPinnedEnumValues) pinned.emplace(pin.enum_name, pin.value);
  for (const auto* e : all_enums()) {
    const auto name = without_package(e->full_name());
    INFO("enum " << name);
    REQUIRE(e->value_count() > 0);
    CHECK(e->value(0)->number() == 0);
    const auto& zero = e->value(0)->name();
    CHECK(zero.size() > 12);
    CHECK(zero.substr(zero.size() - 12) == "_UNSPECIFIED");
    for (int i = 0; i < e->value_count(); ++i) {
      INFO("unpinned enum value " << e->value(i)->name() << ": add it to kPinnedEnumValues");
      CHECK(pinned.count({name, e->value(i)->name()}) == 1);
    }
  }
}

TEST_CASE("feed schema: bytes written by v1 decode field by field", "[feed][schema]") {
  // Wire-level anchor: a hand-built encoding (tag = number << 3 | wire type) must decode into the
  // same fields, so a renumbering that also edits the pinned table still breaks here.
  std::string wire;
  wire += '\x08';  wire += '\x2a';                     // 1 sequence varint 42
  wire += '\x12';  wire += '\x03';  wire += "M01";     // 2 meter_id
  wire += '\x20';  wire += '\x02';                     // 4 kind = REVERSE
  wire += '\x40';  wire += '\xe8';  wire += '\x07';    // 8 value_wh = 1000
  wire += '\x48';  wire += '\x00';                     // 9 register_start_wh = 0 (present)
  wire += '\x70';  wire += '\x03';                     // 14 version = 3
  wire += '\x62';  wire += '\x05';  wire += "2.8.0";   // 12 quality_codes
  headend::feed::v1::IntervalReading r;
  REQUIRE(r.ParseFromString(wire));
  CHECK(r.sequence() == 42);
  CHECK(r.meter_id() == "M01");
  CHECK(r.kind() == headend::feed::v1::READING_KIND_REVERSE_ACTIVE_ENERGY);
  CHECK(r.value_wh() == 1000);
  CHECK(r.has_register_start_wh());
  CHECK(r.register_start_wh() == 0);
  CHECK_FALSE(r.has_register_end_wh());
  CHECK(r.version() == 3);
  REQUIRE(r.quality_codes_size() == 1);
  CHECK(r.quality_codes(0) == "2.8.0");
}
