#include "headend/cli/dlt645_command.hpp"

#include <cstdio>
#include <iostream>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "protocols/common/clock.hpp"
#include "protocols/dlt645/hex.hpp"
#include "protocols/dlt645/inspect.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::cli {
namespace {

using dlt645::Edition;
using json = nlohmann::ordered_json;

std::string two(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::string date_text(const dlt645::MeterDateTime& t) {
  return std::to_string(t.year) + "-" + two(t.month) + "-" + two(t.day);
}
std::string clock_text(const dlt645::MeterDateTime& t) { return two(t.hour) + ":" + two(t.minute) + ":" + two(t.second); }
std::string local_text(const dlt645::MeterDateTime& t) { return date_text(t) + "T" + clock_text(t); }

std::string byte_hex(std::uint8_t b) { return dlt645::to_hex(std::span<const std::uint8_t>(&b, 1)); }
std::string array_hex(const std::array<std::uint8_t, 4>& a) { return dlt645::to_hex(a, false); }

json field_json(const dlt645::FieldValue& v) {
  json j;
  j["label"] = std::string(v.field->label);
  j["record"] = v.record;
  j["available"] = v.available;
  if (!v.available) return j;
  switch (v.field->kind) {
    case dlt645::FieldKind::number: {
      j["value"] = dlt645::format_scaled(v.number);
      j["unit"] = std::string(dlt645::to_string(v.number.unit));
      j["raw"] = v.number.raw;
      j["decimals"] = v.number.decimals;
      if (const auto wh = dlt645::to_wh(v.number))
        j[v.number.unit == dlt645::Unit::kwh ? "wh" : "varh"] = *wh;
      break;
    }
    case dlt645::FieldKind::datetime_minutes:
    case dlt645::FieldKind::datetime_seconds: j["meter_local_time"] = local_text(v.time); break;
    case dlt645::FieldKind::date_weekday:
      j["date"] = date_text(v.time);
      j["weekday"] = v.weekday;
      break;
    case dlt645::FieldKind::time_of_day: j["time"] = clock_text(v.time); break;
    case dlt645::FieldKind::address: j["address"] = v.address.to_string(); break;
    case dlt645::FieldKind::load_profile: break;
  }
  return j;
}

json freeze_json(const dlt645::FreezeTime& f) {
  const auto part = [](const std::optional<int>& v) { return v ? json(*v) : json("any"); };
  return json{{"month", part(f.month)}, {"day", part(f.day)}, {"hour", part(f.hour)}, {"minute", part(f.minute)}};
}

json message_json(const dlt645::Inspection& in) {
  const auto& f = in.frame;
  const auto& m = in.message;
  json j;
  j["edition"] = std::string(dlt645::to_string(m.edition));
  j["preamble_bytes"] = in.preamble;
  j["address"] = f.address.to_string();
  j["direction"] = m.from_meter ? "meter_to_master" : "master_to_meter";
  j["control"] = byte_hex(f.control.raw);
  j["function"] = byte_hex(m.function);
  j["kind"] = std::string(dlt645::to_string(m.kind));
  j["flags"] = json{{"reply", m.from_meter}, {"abnormal", m.abnormal}, {"follow_up", m.follow_up}};
  j["data_length"] = f.data.size();
  j["data_hex"] = dlt645::to_hex(f.data);
  if (m.di) {
    j["di"] = dlt645::format_di(m.edition, *m.di);
    if (m.kind != dlt645::MessageKind::event_clear) {
      j["di_name"] = dlt645::describe_di(in.item, *m.di);
      if (in.item) j["quantity"] = std::string(dlt645::to_string(in.item->quantity));
    }
  }
  if (m.count) j["block_count"] = *m.count;
  if (m.time) j["meter_local_time"] = local_text(*m.time);
  if (m.seq) j["seq"] = *m.seq;
  if (m.freeze_time) j["freeze"] = freeze_json(*m.freeze_time);
  if (m.baud_code) {
    j["baud_code"] = byte_hex(*m.baud_code);
    if (const auto rate = dlt645::rate_of_baud_code(*m.baud_code)) j["baud"] = *rate;
  }
  if (m.address) j[m.from_meter ? "meter_address" : "new_address"] = m.address->to_string();
  if (m.password) j["password"] = array_hex(*m.password);
  if (m.new_password) j["new_password"] = array_hex(*m.new_password);
  if (m.operator_code) j["operator_code"] = array_hex(*m.operator_code);
  if (!in.values.empty()) {
    json values = json::array();
    for (const auto& v : in.values) values.push_back(field_json(v));
    j["values"] = values;
  }
  if (!in.load_profile.empty()) {
    json records = json::array();
    for (const auto& r : in.load_profile) {
      json rec{{"meter_local_time", local_text(r.time)}};
      rec["forward_active_wh"] = r.forward_active_wh ? json(*r.forward_active_wh) : json(nullptr);
      rec["reverse_active_wh"] = r.reverse_active_wh ? json(*r.reverse_active_wh) : json(nullptr);
      records.push_back(rec);
    }
    j["load_profile"] = records;
  }
  if (!in.value_error.empty()) j["value_error"] = in.value_error;
  if (!m.value.empty() && in.values.empty() && in.load_profile.empty()) j["value_hex"] = dlt645::to_hex(m.value);
  if (m.error_bits) {
    json reasons = json::array();
    for (const auto r : in.reasons)
      reasons.push_back(json{{"reason", std::string(dlt645::to_string(r))}, {"description", std::string(dlt645::describe(r))}});
    j["error"] = json{{"bits", byte_hex(*m.error_bits)}, {"reasons", reasons}};
  }
  return j;
}

// "YYYY-MM-DD hh:mm[:ss]" or with 'T' between date and time: meter local time.
std::optional<dlt645::MeterDateTime> parse_local_time(std::string_view text) {
  dlt645::MeterDateTime t;
  char sep = 0;
  int consumed = 0;
  const std::string s(text);
  const int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &t.year, &t.month, &t.day, &sep, &t.hour,
                            &t.minute, &t.second, &consumed);
  if (n == 6) {
    t.second = 0;
    const int m = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &t.year, &t.month, &t.day, &sep, &t.hour,
                              &t.minute, &consumed);
    if (m != 6) return std::nullopt;
  } else if (n != 7) {
    return std::nullopt;
  }
  if ((sep != 'T' && sep != ' ') || static_cast<std::size_t>(consumed) != s.size()) return std::nullopt;
  std::array<std::uint8_t, 6> probe{};
  if (!dlt645::encode_yymmddhhmmss(t, probe)) return std::nullopt;  // range check (2000..2099, real date)
  return t;
}

std::optional<std::uint32_t> parse_di(std::string_view text, Edition edition, std::string& error) {
  const std::size_t digits = dlt645::di_size(edition) * 2;
  std::uint32_t di = 0;
  bool ok = text.size() == digits;
  for (const char c : text) {
    int v = -1;
    if (c >= '0' && c <= '9') v = c - '0';
    if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    if (v < 0) ok = false;
    di = (di << 4) | static_cast<std::uint32_t>(v < 0 ? 0 : v);
  }
  if (!ok) {
    error = "--di '" + std::string(text) + "' must be " + std::to_string(digits) + " hex digits for DL/T 645-" +
            std::string(dlt645::to_string(edition)) + " (DI3..DI0 as printed, e.g. " +
            (edition == Edition::v2007 ? "00010000" : "9010") + ")";
    return std::nullopt;
  }
  return di;
}

std::optional<dlt645::Address> parse_address(const Dlt645EncodeSpec& spec, bool allow_broadcast, std::string& error) {
  if (allow_broadcast && (spec.address == "broadcast" || spec.address.empty())) return dlt645::Address::broadcast();
  if (spec.address.empty()) {
    error = "--address is required for '" + spec.what + "'";
    return std::nullopt;
  }
  std::string why;
  auto a = dlt645::Address::parse(spec.address, why);
  if (!a) error = "--address: " + why;
  return a;
}

bool in_range(const std::optional<int>& v, int lo, int hi, std::string_view name, std::string& error) {
  if (!v || (*v >= lo && *v <= hi)) return true;
  error = std::string(name) + " " + std::to_string(*v) + " is out of range " + std::to_string(lo) + ".." +
          std::to_string(hi);
  return false;
}

std::optional<dlt645::Frame> build_read(const Dlt645EncodeSpec& spec, Edition edition, std::string& error) {
  const auto address = parse_address(spec, false, error);
  if (!address) return std::nullopt;
  const auto di = parse_di(spec.di, edition, error);
  if (!di) return std::nullopt;
  if (edition == Edition::v1997) {
    if (spec.n || !spec.time.empty()) {
      error = "--n and --time are not available for DL/T 645-1997 reads";
      return std::nullopt;
    }
    return dlt645::make_read_request_1997(*address, static_cast<std::uint16_t>(*di));
  }
  // The freeze family of the DI whatever its DI0 (05060100 and 05060101 are the same family).
  const auto* item = dlt645::find_data_item(edition, (*di & 0xFFFFFF00u) | 0x01u);
  const bool n_back = item && (item->di0_role == dlt645::IndexRole::days_back ||
                               item->di0_role == dlt645::IndexRole::hours_back);
  if (n_back && spec.n) {
    // Freezes carry "N back" in DI0 itself.
    const int max = item->di[3].last;
    if (!in_range(spec.n, 1, max, "--n (" + std::string(dlt645::to_string(item->di0_role)) + ")", error))
      return std::nullopt;
    return dlt645::make_read_request(*address, (*di & 0xFFFFFF00u) | static_cast<std::uint32_t>(*spec.n));
  }
  if (!in_range(spec.n, 1, 99, "--n (block count NN)", error)) return std::nullopt;
  const bool needs_time = *di == dlt645::kDiLoadProfileFromTime;
  if (needs_time && (spec.time.empty() || !spec.n)) {
    error = "DI 06000001 (load profile from a given time) needs --n COUNT and --time 'YYYY-MM-DD hh:mm'";
    return std::nullopt;
  }
  if (!spec.time.empty()) {
    if (!spec.n) {
      error = "--time needs --n (the block count NN comes before the time)";
      return std::nullopt;
    }
    const auto t = parse_local_time(spec.time);
    if (!t) {
      error = "--time '" + spec.time + "' is not a meter local time 'YYYY-MM-DD hh:mm' (2000..2099)";
      return std::nullopt;
    }
    return dlt645::make_read_request(*address, *di, static_cast<std::uint8_t>(*spec.n), *t);
  }
  return dlt645::make_read_request(
      *address, *di, spec.n ? std::optional<std::uint8_t>(static_cast<std::uint8_t>(*spec.n)) : std::nullopt);
}

std::optional<dlt645::Frame> build_time_sync(const Dlt645EncodeSpec& spec, Edition edition, std::string& error) {
  std::optional<dlt645::MeterDateTime> local;
  if (!spec.time.empty() && !spec.utc.empty()) {
    error = "give either --time (meter local) or --utc, not both";
    return std::nullopt;
  }
  if (!spec.utc.empty()) {
    const auto utc = parse_utc(spec.utc);
    if (!utc) {
      error = "--utc '" + spec.utc + "' is not an ISO-8601 UTC time like 2026-11-27T05:45:30Z";
      return std::nullopt;
    }
    local = dlt645::to_meter_time(*utc, spec.utc_offset_minutes);
  } else if (!spec.time.empty()) {
    local = parse_local_time(spec.time);
    if (!local) {
      error = "--time '" + spec.time + "' is not a meter local time 'YYYY-MM-DD hh:mm:ss' (2000..2099)";
      return std::nullopt;
    }
  } else {
    error = "time-sync needs --time 'YYYY-MM-DD hh:mm:ss' (meter local) or --utc";
    return std::nullopt;
  }
  auto frame = dlt645::make_broadcast_time_sync(*local, edition);
  if (!frame) error = "the time " + local_text(*local) + " cannot be sent (year must be 2000..2099)";
  return frame;
}

std::optional<dlt645::Frame> build_freeze(const Dlt645EncodeSpec& spec, Edition edition, std::string& error) {
  if (edition != Edition::v2007) {
    error = "freeze (16H) exists only in DL/T 645-2007";
    return std::nullopt;
  }
  const auto address = parse_address(spec, true, error);
  if (!address) return std::nullopt;
  if (!in_range(spec.month, 1, 12, "--month", error) || !in_range(spec.day, 1, 31, "--day", error) ||
      !in_range(spec.hour, 0, 23, "--hour", error) || !in_range(spec.minute, 0, 59, "--minute", error))
    return std::nullopt;
  return dlt645::make_freeze_request(*address, dlt645::FreezeTime{spec.month, spec.day, spec.hour, spec.minute});
}

std::optional<dlt645::Frame> build(const Dlt645EncodeSpec& spec, Edition edition, std::string& error) {
  if (spec.what == "read") return build_read(spec, edition, error);
  if (spec.what == "read-address") {
    if (edition == Edition::v1997) {
      error = "read-address (13H) exists only in DL/T 645-2007";
      return std::nullopt;
    }
    return dlt645::make_read_address_request();
  }
  if (spec.what == "read-follow-up") {
    const auto address = parse_address(spec, false, error);
    if (!address) return std::nullopt;
    const auto di = parse_di(spec.di, edition, error);
    if (!di) return std::nullopt;
    if (edition == Edition::v1997) return dlt645::make_read_follow_up_request_1997(*address, static_cast<std::uint16_t>(*di));
    if (!spec.seq || !in_range(spec.seq, 0, 255, "--seq", error)) {
      if (error.empty()) error = "read-follow-up needs --seq N (0..255)";
      return std::nullopt;
    }
    return dlt645::make_read_follow_up_request(*address, *di, static_cast<std::uint8_t>(*spec.seq));
  }
  if (spec.what == "time-sync") return build_time_sync(spec, edition, error);
  if (spec.what == "freeze") return build_freeze(spec, edition, error);
  error = "unknown frame '" + spec.what + "': use read, read-follow-up, read-address, time-sync or freeze";
  return std::nullopt;
}

[[noreturn]] void fail(const std::string& what, const std::string& error) {
  std::cerr << "headendctl dlt645 " << what << ": " << error << "\n";
  throw CLI::RuntimeError(2);
}

std::optional<Edition> edition_option(const std::string& text, const std::string& command) {
  if (text.empty() || text == "auto") return std::nullopt;
  const auto e = dlt645::parse_edition(text);
  if (!e) fail(command, "--edition '" + text + "' must be 2007, 1997 or auto");
  return e;
}

}  // namespace

std::string dlt645_decode_to_json(std::string_view hex, std::optional<Edition> edition, std::string& error) {
  std::string why;
  const auto bytes = dlt645::parse_hex(hex, why);
  if (!bytes) {
    error = "bad hex: " + why;
    return "";
  }
  const auto inspection = std::make_unique<dlt645::Inspection>();
  if (!dlt645::inspect_frame(*bytes, edition, *inspection, why)) {
    error = why;
    return "";
  }
  return message_json(*inspection).dump(2);
}

std::string dlt645_encode_to_hex(const Dlt645EncodeSpec& spec, std::string& error) {
  const auto edition = dlt645::parse_edition(spec.edition);
  if (!edition) {
    error = "--edition '" + spec.edition + "' must be 2007 or 1997";
    return "";
  }
  if (spec.preamble < 0 || spec.preamble > 4) {
    error = "--preamble " + std::to_string(spec.preamble) + " is out of range 0..4";
    return "";
  }
  const auto frame = build(spec, *edition, error);
  if (!frame) return "";
  return dlt645::to_hex(dlt645::encode_frame(*frame, static_cast<std::size_t>(spec.preamble)));
}

void add_dlt645_commands(CLI::App& app) {
  auto* group = app.add_subcommand("dlt645", "DL/T 645 tools: decode and build frames by hand");
  group->require_subcommand(1);

  struct DecodeArgs {
    std::vector<std::string> hex;
    std::string edition = "auto";
  };
  auto decode_args = std::make_shared<DecodeArgs>();
  auto* decode = group->add_subcommand("decode", "decode one frame given as hex; prints one JSON object");
  decode->add_option("hex", decode_args->hex, "frame bytes as hex, spaces optional, optional FE preamble")
      ->required()
      ->expected(1, -1);
  decode->add_option("--edition", decode_args->edition, "2007, 1997 or auto (from the function code)");
  decode->callback([decode_args] {
    std::string joined;
    for (const auto& part : decode_args->hex) joined += part + " ";
    std::string error;
    const auto text = dlt645_decode_to_json(joined, edition_option(decode_args->edition, "decode"), error);
    if (text.empty()) fail("decode", error);
    std::cout << text << "\n";
  });

  auto spec = std::make_shared<Dlt645EncodeSpec>();
  auto* encode = group->add_subcommand("encode", "build a request frame; prints it as hex");
  encode->add_option("what", spec->what, "read | read-follow-up | read-address | time-sync | freeze")->required();
  encode->add_option("--edition", spec->edition, "2007 (default) or 1997");
  encode->add_option("--address", spec->address, "meter address, 1..12 digits (AA pairs = wildcard); 'broadcast'");
  encode->add_option("--di", spec->di, "data identifier as printed: 00010000 (2007) or 9010 (1997)");
  encode->add_option("--n", spec->n, "freezes: N back (goes into DI0); other reads: block count NN");
  encode->add_option("--time", spec->time, "meter local time 'YYYY-MM-DD hh:mm[:ss]' (load profile, time-sync)");
  encode->add_option("--utc", spec->utc, "time-sync: UTC instant, e.g. 2026-11-27T05:45:30Z");
  encode->add_option("--utc-offset", spec->utc_offset_minutes, "time-sync with --utc: meter offset in minutes (480)");
  encode->add_option("--seq", spec->seq, "read-follow-up: frame number");
  encode->add_option("--month", spec->month, "freeze: month (absent = any)");
  encode->add_option("--day", spec->day, "freeze: day (absent = any)");
  encode->add_option("--hour", spec->hour, "freeze: hour (absent = any)");
  encode->add_option("--minute", spec->minute, "freeze: minute (absent = any)");
  encode->add_option("--preamble", spec->preamble, "FE bytes in front (0..4, default 4)");
  encode->callback([spec] {
    std::string error;
    const auto hex = dlt645_encode_to_hex(*spec, error);
    if (hex.empty()) fail("encode", error);
    std::cout << hex << "\n";
  });
}

}  // namespace ami::cli
