// pymodbus_sdm630_server.py as a child process, and our own copy of the values it serves (the
// test side of the comparison; keep it in step with the script's formulas by hand, not by code).
// Test only; one owner per instance.
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace ami::test {

// python3-pymodbus serving units 1..units; framer "socket" (Modbus TCP) or "rtu" (RTU over TCP).
// `clock` is empty (constant values) or {speed, anchor_ms}: energy then steps at every simulated
// 15-minute boundary counted from the anchor.
struct PymodbusServer {
  PymodbusServer(const std::string& framer, const std::filesystem::path& dir, int units = 3,
                 const std::vector<std::string>& clock = {})
      : port(free_tcp_port()), process(command(framer, units, clock), dir / ("pymodbus-" + framer + ".out"),
                                       dir / ("pymodbus-" + framer + ".err")) {
    REQUIRE(wait_for_port(port, std::chrono::seconds{20}));
  }

  std::vector<std::string> command(const std::string& framer, int units, const std::vector<std::string>& clock) const {
    // Debian's interpreter: the pyenv python3 on PATH has no pymodbus.
    std::vector<std::string> argv{"/usr/bin/python3",
                                  (source_dir() / "tests/integration/modbus/pymodbus_sdm630_server.py").string(),
                                  std::to_string(port), std::to_string(units), framer};
    argv.insert(argv.end(), clock.begin(), clock.end());
    return argv;
  }

  unsigned short port;
  ChildProcess process;
};

// Energy the script serves for unit u at step n, in Wh as docs/MODBUS.md rounds it: import is
// (1000.5 u + 0.25 u n) kWh, always whole Wh; export (0.0625 u + 0.125 n) kWh, whose half Wh
// round away from zero.
inline std::int64_t pymodbus_import_wh(int unit, std::int64_t n) { return 1'000'500LL * unit + 250LL * unit * n; }
inline std::int64_t pymodbus_export_wh(int unit, std::int64_t n) { return (625LL * unit + 1250LL * n + 5) / 10; }

}  // namespace ami::test
