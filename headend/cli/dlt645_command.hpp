// `headendctl dlt645 decode|encode`: read and build DL/T 645 frames by hand (owned by "protocols").
//
// add_dlt645_commands() registers the subcommands; their callbacks print to stdout and, on bad
// input, print one line to stderr naming what is wrong and where, then throw CLI::RuntimeError(2).
// The logic lives in the pure functions below (no I/O, no exceptions) so unit tests call it
// directly. Single-threaded: the CLI runs once per process.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "protocols/dlt645/edition.hpp"

namespace ami::cli {

void add_dlt645_commands(CLI::App& app);

// Decodes one frame given as hex (spaces optional, either case, optional FE preamble) into one
// JSON object (see docs/DLT645.md for the fields). `edition`: std::nullopt detects it from the
// function code. On failure returns "" and fills `error`.
std::string dlt645_decode_to_json(std::string_view hex, std::optional<dlt645::Edition> edition, std::string& error);

// What `headendctl dlt645 encode <what>` was asked to build.
struct Dlt645EncodeSpec {
  std::string what;     // read | read-follow-up | read-address | time-sync | freeze
  std::string edition = "2007";
  std::string address;  // 1..12 digits, AA wildcards; "broadcast" or 999999999999 for time-sync/freeze
  std::string di;       // hex, 8 digits (2007) or 4 digits (1997)
  std::optional<int> n;     // freezes: N back (into DI0); load profile and other reads: NN block count
  std::string time;         // meter local "YYYY-MM-DD hh:mm[:ss]" (also with 'T'): load-profile start, time sync
  std::string utc;          // time-sync alternative: UTC instant, converted with utc_offset_minutes
  int utc_offset_minutes = 480;
  std::optional<int> seq;   // read-follow-up frame number
  std::optional<int> month, day, hour, minute;  // freeze time; absent = 99 (any)
  int preamble = 4;         // FE bytes in front
};

// Builds the frame and returns it as spaced upper-case hex; "" with `error` on bad input.
std::string dlt645_encode_to_hex(const Dlt645EncodeSpec& spec, std::string& error);

}  // namespace ami::cli
