// `headendctl dlt645 decode|encode` logic, through its pure functions and through CLI11 parsing.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "headend/cli/dlt645_command.hpp"

using ami::cli::Dlt645EncodeSpec;
using ami::cli::dlt645_decode_to_json;
using ami::cli::dlt645_encode_to_hex;
using ami::dlt645::Edition;
using nlohmann::json;

namespace {
json decode(std::string_view hex, std::optional<Edition> edition = std::nullopt) {
  std::string error;
  const auto text = dlt645_decode_to_json(hex, edition, error);
  INFO(error);
  REQUIRE_FALSE(text.empty());
  return json::parse(text);
}

std::string decode_error(std::string_view hex) {
  std::string error;
  CHECK(dlt645_decode_to_json(hex, std::nullopt, error).empty());
  return error;
}

std::string encode(const Dlt645EncodeSpec& spec) {
  std::string error;
  const auto hex = dlt645_encode_to_hex(spec, error);
  INFO(error);
  REQUIRE_FALSE(hex.empty());
  return hex;
}

std::string encode_error(const Dlt645EncodeSpec& spec) {
  std::string error;
  CHECK(dlt645_encode_to_hex(spec, error).empty());
  return error;
}
}  // namespace

TEST_CASE("dlt645 decode: a read reply with preamble, lower case, no spaces") {
  const auto j = decode("fefe6812907856341268910833333433ab896745cc16");
  CHECK(j["edition"] == "2007");
  CHECK(j["preamble_bytes"] == 2);
  CHECK(j["address"] == "123456789012");
  CHECK(j["direction"] == "meter_to_master");
  CHECK(j["control"] == "91");
  CHECK(j["function"] == "11");
  CHECK(j["kind"] == "read");
  CHECK(j["flags"]["abnormal"] == false);
  CHECK(j["di"] == "00010000");
  CHECK(j["di_name"] == "forward active energy, total");
  CHECK(j["quantity"] == "forward_active_energy");
  REQUIRE(j["values"].size() == 1);
  CHECK(j["values"][0]["value"] == "123456.78");
  CHECK(j["values"][0]["unit"] == "kWh");
  CHECK(j["values"][0]["raw"] == 12345678);
  CHECK(j["values"][0]["decimals"] == 2);
  CHECK(j["values"][0]["wh"] == 123456780);
}

TEST_CASE("dlt645 decode: abnormal replies list named reasons per edition") {
  const auto j = decode("68 12 90 78 56 34 12 68 D1 01 35 8D 16");
  CHECK(j["flags"]["abnormal"] == true);
  CHECK(j["error"]["bits"] == "02");
  REQUIRE(j["error"]["reasons"].size() == 1);
  CHECK(j["error"]["reasons"][0]["reason"] == "no_requested_data");

  const auto old = decode("68 12 90 78 56 34 12 68 C1 01 35 7D 16");
  CHECK(old["edition"] == "1997");
  CHECK(old["error"]["reasons"][0]["reason"] == "wrong_di");
}

TEST_CASE("dlt645 decode: not-available values and requests") {
  const auto na = decode("68 12 90 78 56 34 12 68 91 08 33 33 35 33 32 32 32 32 B5 16");
  CHECK(na["values"][0]["available"] == false);
  CHECK_FALSE(na["values"][0].contains("value"));

  const auto sync = decode("FE FE FE FE 68 99 99 99 99 99 99 68 08 06 63 78 46 5A 44 59 8C 16");
  CHECK(sync["kind"] == "broadcast_time");
  CHECK(sync["direction"] == "master_to_meter");
  CHECK(sync["meter_local_time"] == "2026-11-27T13:45:30");
}

TEST_CASE("dlt645 decode: load-profile records, blocks and unknown DIs") {
  const auto lp = decode(
      "68 12 90 78 56 34 12 68 91 1C 34 33 33 39 D3 D3 46 48 3B 5A 44 59 DD DD DD 89 67 45 33 43 33 33 33 DD DD DD A9 18 "
      "9F 16");
  CHECK(lp["di_name"] == "load profile, records from a given time");
  REQUIRE(lp["load_profile"].size() == 1);
  CHECK(lp["load_profile"][0]["meter_local_time"] == "2026-11-27T08:15:00");
  CHECK(lp["load_profile"][0]["forward_active_wh"] == 1234560);
  CHECK(lp["load_profile"][0]["reverse_active_wh"] == 100);

  const auto block = decode("68 12 90 78 56 34 12 68 91 0A 33 32 34 35 33 55 48 55 32 32 78 16");
  REQUIRE(block["values"].size() == 3);
  CHECK(block["values"][1]["record"] == 1);
  CHECK(block["values"][1]["value"] == "221.5");
  CHECK(block["values"][1]["unit"] == "V");
  CHECK(block["values"][2]["available"] == false);

  const auto unknown = decode("68 12 90 78 56 34 12 68 91 06 34 33 B3 37 34 35 D7 16");
  CHECK(unknown["di"] == "04800001");
  CHECK(unknown["di_name"] == "unknown DI");
  CHECK(unknown["value_hex"] == "01 02");
  CHECK_FALSE(unknown.contains("values"));
}

TEST_CASE("dlt645 decode: bad input says what is wrong and where") {
  CHECK(decode_error("68 12 9G") == "bad hex: invalid hex character 'G' at position 8");
  CHECK(decode_error("68 1 29") == "bad hex: hex digit '1' at position 4 has no partner: bytes are two hex digits");
  CHECK(decode_error("") == "bad hex: no hex bytes given");
  CHECK(decode_error("68 12 90 78 56 34 12 68 91 08 33 33 34 33 AB 89 67 45 CD 16") ==
        "bad checksum at byte 19: the frame carries CDH, the bytes from 68H through DATA sum to CCH");
  CHECK(decode_error("68 12 90 78 56 34 12 68 91 08 33 33") ==
        "frame truncated: L=08H needs 20 bytes from the start byte at byte 1, got 12");
}

TEST_CASE("dlt645 encode: read, with N back for freezes and NN + time for load profile") {
  Dlt645EncodeSpec spec;
  spec.what = "read";
  spec.address = "123456789012";
  spec.di = "00010000";
  CHECK(encode(spec) == "FE FE FE FE 68 12 90 78 56 34 12 68 11 04 33 33 34 33 68 16");

  spec.di = "05060100";
  spec.n = 3;
  spec.preamble = 0;
  const auto freeze = decode(encode(spec));
  CHECK(freeze["di"] == "05060103");
  CHECK_FALSE(freeze.contains("block_count"));

  spec.di = "06000001";
  spec.n = 1;
  spec.time = "2026-11-27 08:15";
  CHECK(encode(spec) == "68 12 90 78 56 34 12 68 11 0A 34 33 33 39 34 48 3B 5A 44 59 22 16");

  spec.edition = "1997";
  spec.di = "9010";
  spec.n.reset();
  spec.time.clear();
  spec.preamble = 4;
  CHECK(encode(spec) == "FE FE FE FE 68 12 90 78 56 34 12 68 01 02 43 C3 8F 16");
}

TEST_CASE("dlt645 encode: read address, time sync, freeze, follow-up") {
  Dlt645EncodeSpec spec;
  spec.preamble = 0;
  spec.what = "read-address";
  CHECK(encode(spec) == "68 AA AA AA AA AA AA 68 13 00 DF 16");

  spec.what = "time-sync";
  spec.time = "2026-11-27T13:45:30";
  CHECK(encode(spec) == "68 99 99 99 99 99 99 68 08 06 63 78 46 5A 44 59 8C 16");
  spec.time.clear();
  spec.utc = "2026-11-27T05:45:30Z";  // UTC+8 meter: 13:45:30 local
  CHECK(encode(spec) == "68 99 99 99 99 99 99 68 08 06 63 78 46 5A 44 59 8C 16");

  Dlt645EncodeSpec freeze;
  freeze.what = "freeze";
  freeze.preamble = 0;
  CHECK(encode(freeze) == "68 99 99 99 99 99 99 68 16 04 CC CC CC CC B0 16");
  freeze.address = "123456789012";
  freeze.hour = 0;
  freeze.minute = 0;
  CHECK(encode(freeze) == "68 12 90 78 56 34 12 68 16 04 33 33 CC CC 9E 16");

  Dlt645EncodeSpec follow;
  follow.what = "read-follow-up";
  follow.address = "123456789012";
  follow.di = "06000001";
  follow.seq = 2;
  follow.preamble = 0;
  CHECK(encode(follow) == "68 12 90 78 56 34 12 68 12 05 34 33 33 39 35 A5 16");
}

TEST_CASE("dlt645 encode: bad input names the option and the problem") {
  Dlt645EncodeSpec spec;
  spec.what = "read";
  spec.di = "00010000";
  CHECK(encode_error(spec) == "--address is required for 'read'");
  spec.address = "12345678901X";
  CHECK(encode_error(spec) ==
        "--address: address '12345678901X' has an invalid digit pair '1X' at digits 11-12 of 12 (only 0-9, or AA pairs "
        "as wildcards)");
  spec.address = "1";
  spec.di = "0001000";
  CHECK(encode_error(spec) ==
        "--di '0001000' must be 8 hex digits for DL/T 645-2007 (DI3..DI0 as printed, e.g. 00010000)");
  spec.di = "05060100";
  spec.n = 63;
  CHECK(encode_error(spec) == "--n (days_back) 63 is out of range 1..62");
  spec.di = "06000001";
  spec.n.reset();
  CHECK(encode_error(spec) ==
        "DI 06000001 (load profile from a given time) needs --n COUNT and --time 'YYYY-MM-DD hh:mm'");
  spec.n = 1;
  spec.time = "2026-13-01 00:00";
  CHECK(encode_error(spec) == "--time '2026-13-01 00:00' is not a meter local time 'YYYY-MM-DD hh:mm' (2000..2099)");
  spec.what = "explode";
  CHECK(encode_error(spec) ==
        "unknown frame 'explode': use read, read-follow-up, read-address, time-sync or freeze");
  Dlt645EncodeSpec freeze;
  freeze.what = "freeze";
  freeze.hour = 24;
  CHECK(encode_error(freeze) == "--hour 24 is out of range 0..23");
  freeze.hour.reset();
  freeze.edition = "2011";
  CHECK(encode_error(freeze) == "--edition '2011' must be 2007 or 1997");
}

TEST_CASE("dlt645 command: CLI11 wiring runs decode and rejects bad input with exit code 2") {
  CLI::App app{"test"};
  ami::cli::add_dlt645_commands(app);
  std::vector<std::string> ok_args{"headendctl", "dlt645", "decode", "68", "12", "90", "78", "56", "34", "12",
                                   "68",         "93",     "06",     "45", "C3", "AB", "89", "67", "45", "07", "16"};
  std::vector<char*> argv;
  for (auto& a : ok_args) argv.push_back(a.data());
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  CHECK_NOTHROW(app.parse(static_cast<int>(argv.size()), argv.data()));
  std::cout.rdbuf(old);
  CHECK(json::parse(captured.str())["meter_address"] == "123456789012");

  CLI::App bad_app{"test"};
  ami::cli::add_dlt645_commands(bad_app);
  std::vector<std::string> bad_args{"headendctl", "dlt645", "decode", "68", "12"};
  std::vector<char*> bad_argv;
  for (auto& a : bad_args) bad_argv.push_back(a.data());
  std::ostringstream err;
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  int code = 0;
  try {
    bad_app.parse(static_cast<int>(bad_argv.size()), bad_argv.data());
  } catch (const CLI::RuntimeError& e) {
    code = e.get_exit_code();
  }
  std::cerr.rdbuf(old_err);
  CHECK(code == 2);
  CHECK(err.str() ==
        "headendctl dlt645 decode: frame truncated: the header needs 10 bytes from the start byte at byte 1, got 2\n");
}
