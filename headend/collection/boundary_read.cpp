#include "headend/collection/boundary_read.hpp"

#include <fmt/format.h>

#include "protocols/dlt645/datetime.hpp"
#include "protocols/dlt645/load_profile.hpp"
#include "protocols/dlt645/messages.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::collection {
namespace {

constexpr std::size_t kDiSize = 4;
constexpr std::size_t kRecordTimeOffset = kDiSize + 3;  // DI, then A0 A0 L, then mm hh DD MM YY

std::string_view load_profile_error_text(dlt645::LoadProfileError e) {
  switch (e) {
    case dlt645::LoadProfileError::none: return "none";
    case dlt645::LoadProfileError::truncated: return "truncated record";
    case dlt645::LoadProfileError::bad_marker: return "bad record marker";
    case dlt645::LoadProfileError::bad_checksum: return "bad record checksum";
    case dlt645::LoadProfileError::bad_time: return "bad record time";
    case dlt645::LoadProfileError::bad_block: return "bad record block";
  }
  return "unknown";
}

}  // namespace

UtcSeconds first_record_time(const BoundaryRequest& request) {
  return request.boundary - request.interval * (request.records - 1);
}

dlt645::Frame make_boundary_request(const BoundaryRequest& request) {
  const auto start = dlt645::to_meter_time(first_record_time(request), request.utc_offset_minutes);
  return dlt645::make_load_profile_request(request.address, static_cast<std::uint8_t>(request.records), start);
}

bool is_reply_to(const BoundaryRequest& request, const dlt645::Frame& reply) {
  if (!reply.control.from_meter() || reply.control.function() != dlt645::kFnRead) return false;
  if (reply.control.abnormal()) return true;
  const auto read = dlt645::parse_read_reply(reply);
  if (!read || read->di != dlt645::kDiLoadProfileFromTime) return false;
  // An empty value (no records) can only answer this request if nothing else is pending; accept it.
  if (reply.data.size() < kRecordTimeOffset + 5) return reply.data.size() == kDiSize;
  const auto first = dlt645::decode_yymmddhhmm(std::span(reply.data).subspan(kRecordTimeOffset, 5));
  if (!first) return true;  // corrupt record time: let interpret report it as bad_reply
  return dlt645::to_utc(*first, request.utc_offset_minutes) == first_record_time(request);
}

BoundaryReadResult interpret_boundary_reply(const BoundaryRequest& request, const dlt645::Frame& reply) {
  BoundaryReadResult result;
  if (reply.control.abnormal()) {
    result.outcome = Outcome::meter_error;
    result.detail = abnormal_reply_detail(reply);
    return result;
  }
  const auto read = dlt645::parse_read_reply(reply);
  if (!read || read->di != dlt645::kDiLoadProfileFromTime) {
    result.detail = "reply is not a load-profile (06000001) read reply";
    return result;
  }
  std::vector<dlt645::LoadProfileRecord> records;
  records.reserve(static_cast<std::size_t>(request.records));  // one allocation, not one per doubling
  const auto error = dlt645::parse_load_profile_records(read->value, records);
  if (error != dlt645::LoadProfileError::none) {
    result.detail = fmt::format("load-profile record {}: {}", records.size() + 1, load_profile_error_text(error));
    return result;
  }
  bool have_boundary = false;
  result.snapshots.reserve(records.size());
  for (const auto& record : records) {
    const auto utc = dlt645::to_utc(record.time, request.utc_offset_minutes);
    if (!utc) {
      result.detail = "load-profile record with an impossible local time";
      return result;
    }
    const bool asked_for = *utc >= first_record_time(request) && *utc <= request.boundary &&
                           (*utc - first_record_time(request)) % request.interval == std::chrono::seconds{0};
    if (!asked_for) continue;
    if (!record.forward_active_wh && !record.reverse_active_wh) continue;
    result.snapshots.push_back({*utc, record.forward_active_wh, record.reverse_active_wh});
    if (*utc == request.boundary) have_boundary = true;
  }
  if (!have_boundary) {
    result.outcome = Outcome::missing_record;
    result.detail = fmt::format("meter returned {} record(s) but none with registers at {}", records.size(),
                                format_utc(request.boundary));
    return result;
  }
  result.outcome = Outcome::ok;
  return result;
}

std::string describe_err(dlt645::Edition edition, std::uint8_t err) {
  // The reasons come from the protocol library's per-edition ERR table; this only joins them.
  std::string text;
  for (const auto reason : dlt645::decode_error_reasons(edition, err)) {
    if (!text.empty()) text += "; ";
    text += dlt645::to_string(reason);
  }
  return text.empty() ? "no reason given" : text;
}

std::string abnormal_reply_detail(const dlt645::Frame& reply) {
  return reply.data.empty() ? std::string("abnormal reply without ERR byte")
                            : fmt::format("ERR {:02X}: {}", reply.data[0], describe_err_2007(reply.data[0]));
}

DecodedRead decode_read_reply(std::uint32_t di, const dlt645::Frame& reply) {
  DecodedRead out;
  if (reply.control.abnormal()) {
    out.outcome = Outcome::meter_error;
    out.detail = abnormal_reply_detail(reply);
    return out;
  }
  const auto read = dlt645::parse_read_reply(reply);
  const auto* item = dlt645::find_data_item(dlt645::Edition::v2007, di);
  if (!read || read->di != di || item == nullptr) {
    out.detail = fmt::format("reply is not a {:08X} read reply", di);
    return out;
  }
  const auto status = dlt645::decode_value(*item, read->value, out.fields);
  if (status.error != dlt645::ValueError::none || out.fields.empty()) {
    out.fields.clear();
    out.detail = fmt::format("{:08X} value unusable: {} at byte {}", di, dlt645::to_string(status.error), status.offset);
    return out;
  }
  out.outcome = Outcome::ok;
  return out;
}

bool answers_read_of(std::uint32_t di, const dlt645::Frame& reply) {
  if (!reply.control.from_meter() || reply.control.function() != dlt645::kFnRead) return false;
  if (reply.control.abnormal()) return true;
  const auto read = dlt645::parse_read_reply(reply);
  return read && read->di == di;
}

}  // namespace ami::collection
