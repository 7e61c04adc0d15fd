// A read that may span several frames (D5 "follow-up" replies), as a sans-I/O state machine.
//
// The transport sends request(), passes every reply frame for it to on_reply(), and sends
// request() again while on_reply() says send_next. 2007: 11H, then 12H with SEQ 1, 2, ... while
// the meter answers B1H/B2H; the last reply is 91H/92H. 1997: 01H, then 02H while the meter sets
// D5. The values of all frames are concatenated into value().
// Owned by one session; not thread-safe. Never throws: failures are a Failure plus a sentence.
// Timeouts and retries are the transport's business (re-send request() to retry a frame).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "protocols/dlt645/messages.hpp"

namespace ami::dlt645 {

class ReadExchange {
 public:
  // Safety cap on follow-up frames (a meter that never clears D5 must not loop forever).
  static constexpr std::size_t kMaxFrames = 64;

  enum class Step : std::uint8_t { send_next, done, failed };
  enum class Failure : std::uint8_t {
    none,
    abnormal,        // the meter answered with an abnormal reply: see reasons()
    bad_reply,       // not a well-formed reply to this read (function, DATA layout)
    wrong_di,        // the reply carries another DI
    wrong_seq,       // a 2007 follow-up reply with another frame number
    too_many_frames, // more than kMaxFrames follow-up frames
  };

  // `first` must be a read request of `edition` (2007 11H, 1997 01H): make_read_request(...).
  ReadExchange(Edition edition, Frame first);

  [[nodiscard]] const Frame& request() const { return request_; }
  Step on_reply(const Frame& reply);

  [[nodiscard]] std::span<const std::uint8_t> value() const { return value_; }
  [[nodiscard]] std::uint32_t di() const { return di_; }
  [[nodiscard]] std::size_t frames() const { return frames_; }
  [[nodiscard]] Failure failure() const { return failure_; }
  [[nodiscard]] const ErrorReasons& reasons() const { return reasons_; }
  [[nodiscard]] const std::string& detail() const { return detail_; }  // empty unless failed

 private:
  Step fail(Failure f, std::string detail);

  Edition edition_;
  Frame request_;
  std::uint32_t di_ = 0;
  std::uint8_t next_seq_ = 0;  // SEQ of the follow-up request in flight (0 = the first read)
  std::size_t frames_ = 0;
  std::vector<std::uint8_t> value_;
  Failure failure_ = Failure::none;
  ErrorReasons reasons_;
  std::string detail_;
  bool finished_ = false;
};

}  // namespace ami::dlt645
