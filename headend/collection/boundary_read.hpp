// The read the collection engine makes for each meter at boundary B: DL/T 645-2007 load profile
// (11H, DI 06000001), NN=2 records starting at B - interval in meter local time, i.e. the meter's
// own register snapshots at B - interval and at B (docs/ARCHITECTURE.md "Interval collection").
// Reading both ends in one transaction means one successful read is enough for interval [B-i, B).
// Backfill (catch-up after downtime) asks for more records at once: NN = records, from
// B - (records - 1) x interval up to B, every record a boundary snapshot.
//
// Pure (no I/O): builds the request, recognises the reply that answers it, and turns that reply
// into register snapshots or an Outcome with a reason. Also the helpers every 2007 read shares
// (ERR wording, catalogue decoding of a read reply). Any thread; never throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "headend/collection/outcome.hpp"
#include "protocols/common/clock.hpp"
#include "protocols/dlt645/catalogue.hpp"
#include "protocols/dlt645/edition.hpp"
#include "protocols/dlt645/frame.hpp"

namespace ami::collection {

struct BoundaryRequest {
  dlt645::Address address;
  int utc_offset_minutes = 480;
  UtcSeconds boundary{};
  std::chrono::minutes interval{15};
  int records = 2;  // 2..kMaxBoundaryRecords; the last one is at `boundary`
};

// Records per request at most: 8 records of 24 bytes + DI stay under the 200-byte read reply cap.
inline constexpr int kMaxBoundaryRecords = 8;

// A register snapshot the meter stored at an interval boundary (UTC).
struct RegisterSnapshot {
  UtcSeconds boundary{};
  std::optional<std::int64_t> forward_active_wh;
  std::optional<std::int64_t> reverse_active_wh;
};

struct BoundaryReadResult {
  Outcome outcome = Outcome::bad_reply;
  std::string detail;                       // why, for anything but ok
  std::vector<RegisterSnapshot> snapshots;  // usable records, also on missing_record
};

dlt645::Frame make_boundary_request(const BoundaryRequest& request);

// The first record's time: boundary - (records - 1) x interval.
UtcSeconds first_record_time(const BoundaryRequest& request);

// True when `reply` (already from the right address) answers `request`: a read reply carrying
// DI 06000001 whose first record is at the requested start time, or an abnormal read reply.
// A late reply to an earlier boundary's request fails this test and is dropped by the channel.
bool is_reply_to(const BoundaryRequest& request, const dlt645::Frame& reply);

BoundaryReadResult interpret_boundary_reply(const BoundaryRequest& request, const dlt645::Frame& reply);

// ERR byte -> "no_requested_data; unauthorized": the protocol library's reason names for the
// edition, low bit first.
std::string describe_err(dlt645::Edition edition, std::uint8_t err);
inline std::string describe_err_2007(std::uint8_t err) { return describe_err(dlt645::Edition::v2007, err); }
// "ERR 04: unauthorized" for an abnormal 2007 reply (its ERR byte's reasons), or "abnormal reply
// without ERR byte". Every 2007 exchange (load profile, freezes, clock) words meter errors so.
std::string abnormal_reply_detail(const dlt645::Frame& reply);

// The reply to a 2007 read (11H) of `di`, decoded with the protocol library's catalogue: ok with
// one FieldValue per field per record (the first record's first field is fields.front(); it may
// be "not available", all FF), else meter_error (abnormal reply) or bad_reply (another DI, a DI
// the catalogue lacks, an undecodable value) with the reason. Clock and freeze reads use it.
// True when `reply` (already from the right address) answers a 2007 read of `di`: a read reply
// carrying exactly that DI (a late reply to another read is not an answer), or an abnormal read
// reply (it carries no DI: taken by the read in flight).
bool answers_read_of(std::uint32_t di, const dlt645::Frame& reply);
struct DecodedRead {
  Outcome outcome = Outcome::bad_reply;
  std::string detail;
  std::vector<dlt645::FieldValue> fields;
};
DecodedRead decode_read_reply(std::uint32_t di, const dlt645::Frame& reply);

}  // namespace ami::collection
