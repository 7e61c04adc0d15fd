// One RS-485 bus behind a gateway: the meters on it, who answers a request, and the faults
// applied to that answer. Pure of I/O: the gateway servers (gateway_server.hpp for DL/T 645,
// modbus_gateway.hpp for Modbus) feed it one request at a time, which is the bus's
// one-transaction-at-a-time rule, and apply the delay / drop it asks for.
//
// DL/T 645: a frame for an address nobody has gets silence; a wildcard (AA) address that matches
// several meters gets silence too (their replies collide); 08H broadcast time sync sets every
// meter's clock; other broadcasts are obeyed silently.
// Ownership/threads: owned by its gateway and used from that gateway's thread only (the FaultSet
// it points to is shared and locks itself). Never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "protocols/dlt645/edition.hpp"
#include "protocols/dlt645/frame.hpp"
#include "simulators/faults.hpp"
#include "simulators/fleet.hpp"
#include "simulators/meter.hpp"

namespace ami::sim {

struct GatewayCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> replies{0};
  std::atomic<std::uint64_t> faults{0};
};

// What the gateway should put on the wire for one request.
struct BusReply {
  std::vector<std::uint8_t> bytes;        // empty = silence
  std::chrono::milliseconds delay{0};     // late answer: hold the bus this long (real time) first
  bool drop_connection = false;           // close the client connection instead of answering
};

// The meters of one gateway, indexed by every address they answer to.
class MeterTable {
 public:
  explicit MeterTable(const GatewaySpec& gateway);
  [[nodiscard]] const GatewaySpec& gateway() const { return *gateway_; }
  [[nodiscard]] std::vector<SimMeter>& meters() { return meters_; }
  [[nodiscard]] const std::vector<SimMeter>& meters() const { return meters_; }
  // The meter answering to a concrete DL/T 645 address at `now`, or nullptr.
  [[nodiscard]] SimMeter* find(const dlt645::Address& address, UtcMillis now);
  // The meter answering to a Modbus unit id at `now`, or nullptr.
  [[nodiscard]] SimMeter* find_unit(int unit_id, UtcMillis now);
  [[nodiscard]] GatewayCounters& counters() const { return counters_; }
  // Every meter's clock is right at `t` (the simulator's start) and drifts from there.
  void set_drift_reference(UtcMillis t) {
    for (auto& m : meters_) m.set_drift_reference(t);
  }

 private:
  static std::uint64_t key_of(const dlt645::Address& address);
  const GatewaySpec* gateway_;
  std::vector<SimMeter> meters_;
  std::unordered_map<std::uint64_t, std::vector<std::size_t>> by_address_;
  std::unordered_map<int, std::vector<std::size_t>> by_unit_;
  mutable GatewayCounters counters_;
};

class Dlt645Bus {
 public:
  // `faults` may be nullptr (no fault injection).
  Dlt645Bus(const GatewaySpec& gateway, FaultSet* faults);

  BusReply transact(const dlt645::Frame& request, UtcMillis now);

  [[nodiscard]] MeterTable& table() { return table_; }
  [[nodiscard]] const MeterTable& table() const { return table_; }

 private:
  SimMeter* resolve(const dlt645::Frame& request, UtcMillis now);
  void broadcast(const dlt645::Frame& request, UtcMillis now);

  MeterTable table_;
  FaultSet* faults_;
  dlt645::Edition edition_;
  std::uint64_t draws_ = 0;
};

// What a Modbus bus does with one register read, faults applied; the servers turn it into bytes
// (libmodbus replies for TCP, RTU frames for pty / RTU over TCP).
struct ModbusAnswer {
  enum class Kind : std::uint8_t { silence, registers, exception, garbage } kind = Kind::silence;
  std::uint8_t unit = 0;                 // the unit id the reply carries (wrong_address changes it)
  std::uint8_t function = 0;
  std::vector<std::uint16_t> registers;  // registers
  std::uint8_t exception = 0;            // exception
  std::vector<std::uint8_t> garbage;     // garbage
  bool corrupt_checksum = false;         // RTU: send a wrong CRC
  std::chrono::milliseconds delay{0};
  bool drop_connection = false;
};

class ModbusBus {
 public:
  // `gateway_answers_0b`: a TCP gateway answers 0x0B for units that do not answer; a bare RTU
  // line stays silent.
  ModbusBus(const GatewaySpec& gateway, FaultSet* faults, bool gateway_answers_0b);

  ModbusAnswer transact(std::uint8_t unit, std::uint8_t function, std::uint16_t start, std::uint16_t count,
                        UtcMillis now);

  [[nodiscard]] MeterTable& table() { return table_; }
  [[nodiscard]] const MeterTable& table() const { return table_; }

 private:
  MeterTable table_;
  FaultSet* faults_;
  bool gateway_answers_0b_;
  std::uint64_t draws_ = 0;
};

// The RTU bytes (unit + PDU + CRC) of an answer; empty for silence.
std::vector<std::uint8_t> encode_rtu_answer(const ModbusAnswer& answer);

// Deterministic garbage for the `garbage` fault: never contains 68H, so it can not start a frame.
std::vector<std::uint8_t> garbage_bytes(std::uint64_t key, std::uint64_t draw);

}  // namespace ami::sim
