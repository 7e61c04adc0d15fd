// DL/T 645 codec micro-benchmarks: encode and decode of typical read requests and replies.
// Results and the command that produced them: docs/PERFORMANCE.md, section "DL/T 645".
#include <benchmark/benchmark.h>

#include <vector>

#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/framer.hpp"
#include "protocols/dlt645/messages.hpp"
#include "protocols/dlt645/read.hpp"

namespace {

using namespace ami::dlt645;

Address meter() {
  std::string error;
  return *Address::parse("123456789012", error);
}

// 91H reply to 00010000 (forward active total 123456.78 kWh) with two FE, as meters send it.
std::vector<std::uint8_t> forward_active_reply() {
  const std::uint8_t value[4] = {0x78, 0x56, 0x34, 0x12};
  return encode_frame(make_read_reply(Edition::v2007, meter(), kDiForwardActiveTotal, value), 2);
}

std::vector<std::uint8_t> block_reply() {
  std::vector<std::uint8_t> value;
  for (std::uint8_t i = 0; i < 5; ++i) value.insert(value.end(), {0x00, static_cast<std::uint8_t>(i + 1), 0x00, 0x00});
  return encode_frame(make_read_reply(Edition::v2007, meter(), 0x0001FF00, value), 2);
}

// The daemon's hot path for a register read: link frame -> read reply -> catalogue -> Wh.
void BM_Dlt645DecodeReadReply(benchmark::State& state) {
  const auto wire = forward_active_reply();
  const std::span<const std::uint8_t> frame_bytes(wire.data() + 2, wire.size() - 2);
  Frame frame;
  for (auto _ : state) {
    const auto r = decode_frame(frame_bytes, frame);
    const auto reply = parse_read_reply(frame);
    const DataItem* item = find_data_item(Edition::v2007, reply->di);
    const auto value = decode_number(item->fields[0], reply->value);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(to_wh(*value));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645DecodeReadReply);

// Same reply through the typed message layer (parse_message fills every optional field).
void BM_Dlt645DecodeReadReplyMessage(benchmark::State& state) {
  const auto wire = forward_active_reply();
  const std::span<const std::uint8_t> frame_bytes(wire.data() + 2, wire.size() - 2);
  Frame frame;
  Message message;
  std::vector<FieldValue> values;
  values.reserve(8);
  for (auto _ : state) {
    decode_frame(frame_bytes, frame);
    parse_message(frame, Edition::v2007, message);
    values.clear();
    decode_value(*find_data_item(message.edition, *message.di), message.value, values);
    benchmark::DoNotOptimize(values.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645DecodeReadReplyMessage);

// Through the incremental framer, the way a session receives it (preamble included).
void BM_Dlt645FramerReadReply(benchmark::State& state) {
  const auto wire = forward_active_reply();
  Framer framer;
  Frame frame;
  for (auto _ : state) {
    framer.feed(wire);
    auto ev = framer.next(frame);
    benchmark::DoNotOptimize(ev);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645FramerReadReply);

// A 5-record energy block (total + 4 tariffs) decoded to scaled values.
void BM_Dlt645DecodeBlockReply(benchmark::State& state) {
  const auto wire = block_reply();
  const std::span<const std::uint8_t> frame_bytes(wire.data() + 2, wire.size() - 2);
  Frame frame;
  std::vector<FieldValue> values;
  values.reserve(8);
  for (auto _ : state) {
    decode_frame(frame_bytes, frame);
    const auto reply = parse_read_reply(frame);
    values.clear();
    decode_value(*find_data_item(Edition::v2007, reply->di), reply->value, values);
    benchmark::DoNotOptimize(values.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645DecodeBlockReply);

// Master side: build and encode a read request (4 FE preamble) into a reused buffer.
void BM_Dlt645EncodeReadRequest(benchmark::State& state) {
  const auto address = meter();
  std::vector<std::uint8_t> out;
  out.reserve(64);
  for (auto _ : state) {
    out.clear();
    encode_frame(make_read_request(address, kDiForwardActiveTotal), out, 4);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645EncodeReadRequest);

// Meter side (simulator): encode a read reply with its value.
void BM_Dlt645EncodeReadReply(benchmark::State& state) {
  const auto address = meter();
  const Field& field = find_data_item(Edition::v2007, kDiForwardActiveTotal)->fields[0];
  std::vector<std::uint8_t> out;
  out.reserve(64);
  for (auto _ : state) {
    std::uint8_t value[4];
    encode_number(field, 12345678, value);
    out.clear();
    encode_frame(make_read_reply(Edition::v2007, address, kDiForwardActiveTotal, value), out, 2);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Dlt645EncodeReadReply);

}  // namespace
