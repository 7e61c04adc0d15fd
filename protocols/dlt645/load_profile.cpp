#include "protocols/dlt645/load_profile.hpp"

#include "protocols/dlt645/bcd.hpp"
#include "protocols/dlt645/read.hpp"

namespace ami::dlt645 {
namespace {
constexpr std::uint8_t kRecordMarker = 0xA0;
constexpr std::uint8_t kBlockSeparator = 0xAA;
constexpr std::uint8_t kRecordEnd = 0xE5;
constexpr int kBlocks = 6;
constexpr int kEnergyBlock = 4;  // 1-based
}  // namespace

Frame make_load_profile_request(const Address& address, std::uint8_t count, const MeterDateTime& start) {
  Frame f{address, Control::request(kFnRead), {}};
  append_di(kDiLoadProfileFromTime, f.data);
  std::uint8_t nn = 0;
  encode_bcd(count, std::span<std::uint8_t>(&nn, 1));
  f.data.push_back(nn);
  std::uint8_t t[5]{};
  encode_yymmddhhmm(start, std::span<std::uint8_t, 5>(t, 5));
  f.data.insert(f.data.end(), t, t + 5);
  return f;
}

void append_load_profile_record(const LoadProfileRecord& record, std::vector<std::uint8_t>& out) {
  const std::size_t begin = out.size();
  out.push_back(kRecordMarker);
  out.push_back(kRecordMarker);
  out.push_back(0);  // L, patched below
  std::uint8_t t[5]{};
  encode_yymmddhhmm(record.time, std::span<std::uint8_t, 5>(t, 5));
  out.insert(out.end(), t, t + 5);
  for (int block = 1; block <= kBlocks; ++block) {
    if (block == kEnergyBlock && (record.forward_active_wh || record.reverse_active_wh)) {
      for (const auto& wh : {record.forward_active_wh, record.reverse_active_wh}) {
        std::uint8_t v[4];
        if (wh) {
          encode_bcd(static_cast<std::uint64_t>(*wh / 10), v);  // 0.01 kWh resolution
        } else {
          std::fill(v, v + 4, std::uint8_t{0xFF});
        }
        out.insert(out.end(), v, v + 4);
      }
    }
    out.push_back(kBlockSeparator);
  }
  out[begin + 2] = static_cast<std::uint8_t>(out.size() - (begin + 3));
  std::uint8_t sum = 0;
  for (std::size_t i = begin; i < out.size(); ++i) sum = static_cast<std::uint8_t>(sum + out[i]);
  out.push_back(sum);
  out.push_back(kRecordEnd);
}

LoadProfileError parse_load_profile_records(std::span<const std::uint8_t> value,
                                            std::vector<LoadProfileRecord>& out) {
  while (!value.empty()) {
    if (value.size() < 3) return LoadProfileError::truncated;
    if (value[0] != kRecordMarker || value[1] != kRecordMarker) return LoadProfileError::bad_marker;
    const std::size_t length = value[2];
    if (value.size() < 3 + length + 2) return LoadProfileError::truncated;
    if (length < 5 + kBlocks) return LoadProfileError::bad_block;
    std::uint8_t sum = 0;
    for (std::size_t i = 0; i < 3 + length; ++i) sum = static_cast<std::uint8_t>(sum + value[i]);
    if (sum != value[3 + length]) return LoadProfileError::bad_checksum;
    if (value[3 + length + 1] != kRecordEnd) return LoadProfileError::bad_marker;

    LoadProfileRecord record;
    const auto time = decode_yymmddhhmm(value.subspan(3, 5));
    if (!time) return LoadProfileError::bad_time;
    record.time = *time;
    auto body = value.subspan(8, length - 5);
    for (int block = 1; block <= kBlocks; ++block) {
      std::size_t sep = 0;
      // Blocks hold BCD or FF bytes, never AA, so the first AA ends the block.
      while (sep < body.size() && body[sep] != kBlockSeparator) ++sep;
      if (sep == body.size()) return LoadProfileError::bad_block;
      if (block == kEnergyBlock && sep >= 8) {
        const auto fwd = decode_bcd(body.subspan(0, 4));
        const auto rev = decode_bcd(body.subspan(4, 4));
        if (fwd.status == BcdStatus::invalid || rev.status == BcdStatus::invalid) return LoadProfileError::bad_block;
        if (fwd.status == BcdStatus::ok) record.forward_active_wh = fwd.value * 10;
        if (rev.status == BcdStatus::ok) record.reverse_active_wh = rev.value * 10;
      }
      body = body.subspan(sep + 1);
    }
    out.push_back(record);
    value = value.subspan(3 + length + 2);
  }
  return LoadProfileError::none;
}

std::optional<LoadProfileRequest> parse_load_profile_request(std::span<const std::uint8_t> data) {
  if (data.size() < 5) return std::nullopt;
  LoadProfileRequest r;
  r.di = static_cast<std::uint32_t>(data[0]) | static_cast<std::uint32_t>(data[1]) << 8 |
         static_cast<std::uint32_t>(data[2]) << 16 | static_cast<std::uint32_t>(data[3]) << 24;
  if ((r.di & 0xFFFFFF00u) != 0x06000000u) return std::nullopt;
  const auto nn = decode_bcd(data.subspan(4, 1));
  if (nn.status != BcdStatus::ok || nn.value == 0) return std::nullopt;
  r.count = static_cast<std::uint8_t>(nn.value);
  if (r.di == kDiLoadProfileFromTime) {
    if (data.size() != 10) return std::nullopt;
    r.start = decode_yymmddhhmm(data.subspan(5, 5));
    if (!r.start) return std::nullopt;
  } else if (data.size() != 5) {
    return std::nullopt;
  }
  return r;
}

}  // namespace ami::dlt645
