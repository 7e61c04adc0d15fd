// Incremental framer: chunking, preambles, garbage, resynchronisation, bounds, addresses.
#include <catch2/catch.hpp>

#include <vector>

#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/read.hpp"

using namespace ami::dlt645;

namespace {
Address meter() {
  std::string error;
  return *Address::parse("123456789012", error);
}

std::vector<std::uint8_t> reply_bytes(std::size_t preamble = 2) {
  Frame f{meter(), Control::reply(kFnRead), {0x00, 0x00, 0x01, 0x00, 0x78, 0x56, 0x34, 0x12}};
  return encode_frame(f, preamble);
}

struct Drained {
  std::vector<Frame> frames;
  std::vector<Framer::Event> events;  // every event except need_more
  std::size_t consumed = 0;
};

// Feeds `bytes` in chunks of `chunk` and drains every event.
Drained run(Framer& framer, const std::vector<std::uint8_t>& bytes, std::size_t chunk) {
  Drained d;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const auto n = std::min(chunk, bytes.size() - pos);
    const auto taken = framer.feed(std::span<const std::uint8_t>(bytes.data() + pos, n));
    pos += taken;
    for (;;) {
      Frame f;
      const auto ev = framer.next(f);
      d.consumed += ev.consumed;
      if (ev.kind == Framer::EventKind::need_more) break;
      d.events.push_back(ev);
      if (ev.kind == Framer::EventKind::frame || ev.kind == Framer::EventKind::unexpected_address)
        d.frames.push_back(f);
    }
  }
  return d;
}
}  // namespace

TEST_CASE("framer: a reply split at every byte boundary comes out once, whole") {
  const auto bytes = reply_bytes(4);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    INFO("split after byte " << cut);
    Framer framer;
    Drained d;
    for (const auto& part : {std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(cut)),
                             std::vector<std::uint8_t>(bytes.begin() + static_cast<long>(cut), bytes.end())}) {
      auto r = run(framer, part, part.size());
      d.frames.insert(d.frames.end(), r.frames.begin(), r.frames.end());
      d.consumed += r.consumed;
    }
    REQUIRE(d.frames.size() == 1);
    CHECK(d.frames[0].address == meter());
    CHECK(d.frames[0].data.size() == 8);
    CHECK(d.consumed == bytes.size());
    CHECK(framer.buffered() == 0);
  }
}

TEST_CASE("framer: byte-by-byte delivery of back-to-back frames") {
  auto bytes = reply_bytes(0);
  const auto second = reply_bytes(3);
  bytes.insert(bytes.end(), second.begin(), second.end());
  Framer framer;
  const auto d = run(framer, bytes, 1);
  CHECK(d.frames.size() == 2);
  CHECK(d.consumed == bytes.size());
  CHECK(framer.counters().frames == 2);
  CHECK(framer.counters().discarded_bytes == 0);
}

TEST_CASE("framer: garbage before 68H is discarded and counted") {
  std::vector<std::uint8_t> bytes{0x00, 0x13, 0xFE, 0x42};
  const auto frame = reply_bytes();
  bytes.insert(bytes.end(), frame.begin(), frame.end());
  Framer framer;
  const auto d = run(framer, bytes, bytes.size());
  REQUIRE(d.events.size() == 2);
  CHECK(d.events[0].kind == Framer::EventKind::discarded);
  CHECK(d.events[0].error == FrameError::none);
  CHECK(d.events[0].discarded == 4);  // the FE before 68H is preamble, not garbage
  CHECK(d.events[1].kind == Framer::EventKind::frame);
  CHECK(d.consumed == bytes.size());
}

TEST_CASE("framer: resynchronises after a bad checksum or a bad end byte") {
  for (const std::size_t corrupt_from_end : {2u, 1u}) {  // checksum, end byte
    auto broken = reply_bytes(0);
    broken[broken.size() - corrupt_from_end] ^= 0x01;
    const auto good = reply_bytes(0);
    broken.insert(broken.end(), good.begin(), good.end());
    Framer framer;
    const auto d = run(framer, broken, 5);
    REQUIRE(d.frames.size() == 1);
    REQUIRE_FALSE(d.events.empty());
    CHECK(d.events[0].kind == Framer::EventKind::discarded);
    CHECK(d.events[0].error == (corrupt_from_end == 2 ? FrameError::bad_checksum : FrameError::bad_end));
    // The broken frame's second 68H is tried as a start too, so at least one bad frame.
    CHECK(framer.counters().bad_frames >= 1);
    CHECK(d.consumed == broken.size());
  }
}

TEST_CASE("framer: a false 68H with a long L does not stall a following reply") {
  // 68 + 6 bytes + 68 + C + L=FF: promises 255 data bytes that never come.
  std::vector<std::uint8_t> bytes{0x68, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x68, 0x91, 0xFF};
  const auto good = reply_bytes(2);
  bytes.insert(bytes.end(), good.begin(), good.end());
  Framer framer;
  const auto d = run(framer, bytes, 3);
  REQUIRE(d.frames.size() == 1);
  CHECK(d.events.front().error == FrameError::bad_length);
  CHECK(d.frames[0].address == meter());
}

TEST_CASE("framer: a length above the configured cap is rejected at once") {
  std::vector<std::uint8_t> bytes{0x68, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x68, 0x91, 0xC9};
  Framer framer;
  framer.set_max_data_length(200);
  framer.feed(bytes);
  Frame f;
  const auto ev = framer.next(f);
  CHECK(ev.kind == Framer::EventKind::discarded);
  CHECK(ev.error == FrameError::bad_length);

  Framer lenient;  // default cap 255: the same bytes are just incomplete
  lenient.feed(bytes);
  CHECK(lenient.next(f).kind == Framer::EventKind::need_more);
}

TEST_CASE("framer: frames from an unexpected address are reported, not accepted") {
  Framer framer;
  std::string error;
  framer.expect(*Address::parse("000000000001", error));
  const auto d = run(framer, reply_bytes(), 64);
  REQUIRE(d.events.size() == 1);
  CHECK(d.events[0].kind == Framer::EventKind::unexpected_address);
  CHECK(d.frames[0].address == meter());
  CHECK(framer.counters().unexpected_address == 1);

  framer.expect(*Address::parse("AAAAAAAA9012", error));  // wildcard high bytes match
  const auto wild = run(framer, reply_bytes(), 64);
  REQUIRE(wild.events.size() == 1);
  CHECK(wild.events[0].kind == Framer::EventKind::frame);
}

TEST_CASE("framer: the buffer is bounded and noise never overflows it") {
  Framer framer;
  const std::vector<std::uint8_t> noise(Framer::kCapacity + 100, 0x68);
  const auto taken = framer.feed(noise);
  CHECK(taken == Framer::kCapacity);
  CHECK(framer.buffered() == Framer::kCapacity);
  Frame f;
  // Drains by discarding false starts until it needs more.
  std::size_t events = 0;
  while (framer.next(f).kind != Framer::EventKind::need_more) ++events;
  CHECK(events > 0);
  CHECK(framer.buffered() < Framer::kCapacity);
  CHECK(framer.counters().frames == 0);
}
