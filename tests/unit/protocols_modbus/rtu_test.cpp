#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "protocols/modbus/pdu.hpp"
#include "protocols/modbus/rtu.hpp"

using namespace ami::modbus;

namespace {

std::vector<std::uint8_t> bytes_of(const char* text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; text[i] && text[i + 1]; i += 2) {
    while (text[i] == ' ') ++i;
    out.push_back(static_cast<std::uint8_t>(std::stoul(std::string(text + i, 2), nullptr, 16)));
  }
  return out;
}

std::vector<std::uint8_t> read_response(std::uint8_t unit, std::uint8_t fc, std::vector<std::uint16_t> regs) {
  std::vector<std::uint8_t> pdu{fc, static_cast<std::uint8_t>(regs.size() * 2)};
  for (auto r : regs) {
    pdu.push_back(static_cast<std::uint8_t>(r >> 8));
    pdu.push_back(static_cast<std::uint8_t>(r));
  }
  std::vector<std::uint8_t> adu;
  append_rtu_frame(unit, pdu, adu);
  return adu;
}

// Feeds everything (in chunks of `chunk`), collecting frames and counting discarded bytes.
struct Collected {
  std::vector<std::vector<std::uint8_t>> frames;
  std::size_t discarded = 0;
  std::size_t bad_crc_events = 0;
};
Collected run(RtuFramer& framer, const std::vector<std::uint8_t>& stream, std::size_t chunk) {
  Collected c;
  RtuFrame frame;
  std::size_t pos = 0;
  while (true) {
    const auto n = std::min(chunk, stream.size() - pos);
    pos += framer.feed(std::span(stream).subspan(pos, n));
    bool progressed = false;
    for (auto ev = framer.next(frame); ev.kind != RtuFramer::EventKind::need_more; ev = framer.next(frame)) {
      progressed = true;
      if (ev.kind == RtuFramer::EventKind::frame) c.frames.emplace_back(frame.bytes.begin(), frame.bytes.begin() + static_cast<std::ptrdiff_t>(frame.size));
      if (ev.kind == RtuFramer::EventKind::discarded) {
        c.discarded += ev.discarded;
        if (ev.bad_crc) ++c.bad_crc_events;
      }
    }
    if (pos == stream.size() && !progressed) break;
  }
  return c;
}

}  // namespace

TEST_CASE("CRC-16/MODBUS matches published vectors") {
  const std::uint8_t check[] = {'1', '2', '3', '4', '5', '6', '7', '8', '9'};
  CHECK(crc16_modbus(check) == 0x4B37);  // the catalogued check value of CRC-16/MODBUS
  std::vector<std::uint8_t> adu;
  append_rtu_read_request(0x11, FunctionCode::read_holding_registers, 0x006B, 3, adu);
  CHECK(adu == bytes_of("11 03 00 6B 00 03 76 87"));  // Modbus over serial line spec example
  adu.clear();
  append_rtu_read_request(0x01, FunctionCode::read_holding_registers, 0, 10, adu);
  CHECK(adu == bytes_of("01 03 00 00 00 0A C5 CD"));
}

TEST_CASE("frame lengths follow the function code") {
  struct Row {
    RtuDirection dir;
    const char* head;
    std::optional<std::size_t> length;
  };
  const Row rows[] = {
      {RtuDirection::response, "01", 0},
      {RtuDirection::response, "01 03", 0},
      {RtuDirection::response, "01 03 04", 9},
      {RtuDirection::response, "01 83", 5},
      {RtuDirection::response, "01 06", 8},
      {RtuDirection::response, "01 10", 8},
      {RtuDirection::response, "01 41", std::nullopt},
      {RtuDirection::request, "01 03", 8},
      {RtuDirection::request, "01 10 00 00 00 02", 0},
      {RtuDirection::request, "01 10 00 00 00 02 04", 13},
      {RtuDirection::request, "01 2B", std::nullopt},
  };
  for (const auto& row : rows) {
    INFO(row.head);
    CHECK(rtu_frame_length(row.dir, bytes_of(row.head)) == row.length);
  }
}

TEST_CASE("framer delivers a response fed in any chunking") {
  const auto adu = read_response(5, 0x03, {0x1234, 0x5678, 0x9ABC});
  for (std::size_t chunk = 1; chunk <= adu.size(); ++chunk) {
    INFO("chunk " << chunk);
    RtuFramer framer;
    framer.expect(5, 0x03);
    const auto c = run(framer, adu, chunk);
    REQUIRE(c.frames.size() == 1);
    CHECK(c.frames[0] == adu);
    CHECK(c.discarded == 0);
    CHECK(framer.buffered() == 0);
  }
}

TEST_CASE("framer frame exposes unit, function and PDU") {
  const auto adu = read_response(9, 0x04, {0x0102});
  RtuFramer framer;
  framer.feed(adu);
  RtuFrame frame;
  REQUIRE(framer.next(frame).kind == RtuFramer::EventKind::frame);
  CHECK(frame.unit() == 9);
  CHECK(frame.function() == 0x04);
  std::uint16_t reg = 0;
  const auto r = parse_read_response_pdu(frame.pdu(), FunctionCode::read_input_registers, 1, std::span(&reg, 1));
  CHECK(r.status == ResponseStatus::ok);
  CHECK(reg == 0x0102);
}

TEST_CASE("framer skips garbage and resynchronises after a bad CRC") {
  auto good = read_response(1, 0x03, {0x0001, 0x0002});
  auto corrupt = good;
  corrupt[4] ^= 0xFF;
  std::vector<std::uint8_t> stream{0xFF, 0x00, 0xFE};
  stream.insert(stream.end(), corrupt.begin(), corrupt.end());
  stream.insert(stream.end(), good.begin(), good.end());

  RtuFramer framer;
  framer.expect(1, 0x03);
  const auto c = run(framer, stream, 4);
  REQUIRE(c.frames.size() == 1);
  CHECK(c.frames[0] == good);
  CHECK(c.bad_crc_events >= 1);
  CHECK(c.discarded == 3 + corrupt.size());
  CHECK(framer.counters().frames == 1);
  CHECK(framer.counters().bad_crc >= 1);
}

TEST_CASE("a late reply from another unit is never taken for the awaited one") {
  const auto late = read_response(2, 0x03, {0xDEAD});
  const auto awaited = read_response(3, 0x03, {0xBEEF});
  std::vector<std::uint8_t> stream = late;
  stream.insert(stream.end(), awaited.begin(), awaited.end());
  RtuFramer framer;
  framer.expect(3, 0x03);
  const auto c = run(framer, stream, 64);
  REQUIRE(c.frames.size() == 1);
  CHECK(c.frames[0] == awaited);
  CHECK(c.discarded == late.size());
}

TEST_CASE("exception responses are frames") {
  std::vector<std::uint8_t> adu;
  const std::uint8_t pdu[] = {0x83, 0x0B};
  append_rtu_frame(7, pdu, adu);
  RtuFramer framer;
  framer.expect(7, 0x03);
  const auto c = run(framer, adu, 2);
  REQUIRE(c.frames.size() == 1);
  CHECK(c.frames[0].size() == 5);
  std::uint16_t regs[1];
  RtuFrame frame;
  std::memcpy(frame.bytes.data(), c.frames[0].data(), c.frames[0].size());
  frame.size = c.frames[0].size();
  const auto r = parse_read_response_pdu(frame.pdu(), FunctionCode::read_holding_registers, 1, regs);
  CHECK(r.status == ResponseStatus::exception);
  CHECK(r.exception_code == 0x0B);
}

TEST_CASE("request framer delimits write-multiple requests for a server") {
  std::vector<std::uint8_t> stream;
  append_rtu_read_request(4, FunctionCode::read_input_registers, 0x48, 4, stream);
  const std::uint8_t write[] = {0x10, 0x00, 0x10, 0x00, 0x02, 0x04, 0x00, 0x01, 0x00, 0x02};
  append_rtu_frame(4, write, stream);
  RtuFramer framer(RtuDirection::request);
  const auto c = run(framer, stream, 3);
  REQUIRE(c.frames.size() == 2);
  CHECK(c.frames[0].size() == 8);
  CHECK(c.frames[1].size() == 13);
}

TEST_CASE("framer stays bounded and only delivers CRC-valid frames on random input") {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  RtuFramer framer;
  RtuFrame frame;
  std::size_t frames = 0;
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::uint8_t> chunk(static_cast<std::size_t>(byte(rng) % 40));
    for (auto& b : chunk) b = static_cast<std::uint8_t>(byte(rng));
    if (round % 50 == 0) {
      const auto good = read_response(static_cast<std::uint8_t>(1 + round % 200), 0x03, {1, 2, 3});
      chunk.insert(chunk.end(), good.begin(), good.end());
    }
    std::span<const std::uint8_t> rest(chunk);
    while (!rest.empty()) {
      rest = rest.subspan(framer.feed(rest));
      REQUIRE(framer.buffered() <= RtuFramer::kCapacity);
      for (auto ev = framer.next(frame); ev.kind != RtuFramer::EventKind::need_more; ev = framer.next(frame)) {
        if (ev.kind != RtuFramer::EventKind::frame) continue;
        ++frames;
        REQUIRE(frame.size >= 4);
        const auto body = std::span<const std::uint8_t>(frame.bytes).first(frame.size - 2);
        const std::uint16_t crc = crc16_modbus(body);
        CHECK(frame.bytes[frame.size - 2] == static_cast<std::uint8_t>(crc));
        CHECK(frame.bytes[frame.size - 1] == static_cast<std::uint8_t>(crc >> 8));
      }
    }
  }
  CHECK(frames >= 1);
}
