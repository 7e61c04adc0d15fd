#include "protocols/dlt645/read_exchange.hpp"

#include "protocols/dlt645/catalogue.hpp"

namespace ami::dlt645 {

ReadExchange::ReadExchange(Edition edition, Frame first) : edition_(edition), request_(std::move(first)) {
  if (request_.data.size() >= di_size(edition_)) di_ = read_di(edition_, request_.data);
}

ReadExchange::Step ReadExchange::fail(Failure f, std::string detail) {
  failure_ = f;
  detail_ = std::move(detail);
  finished_ = true;
  return Step::failed;
}

ReadExchange::Step ReadExchange::on_reply(const Frame& reply) {
  if (finished_) return failure_ == Failure::none ? Step::done : Step::failed;
  Message m;
  const auto status = parse_message(reply, edition_, m);
  if (!status.ok()) return fail(Failure::bad_reply, status.detail);
  const auto expected = next_seq_ == 0 ? MessageKind::read : MessageKind::read_follow_up;
  if (!m.from_meter || m.kind != expected)
    return fail(Failure::bad_reply, "expected a " + std::string(to_string(expected)) + " reply, got " +
                                        std::string(to_string(m.kind)) + (m.from_meter ? " reply" : " request"));
  if (m.abnormal) {
    reasons_ = decode_error_reasons(edition_, m.error_bits.value_or(0));
    std::string names;
    for (const auto r : reasons_) names += (names.empty() ? "" : ", ") + std::string(to_string(r));
    return fail(Failure::abnormal, "abnormal reply to DI " + format_di(edition_, di_) + ": " +
                                       (names.empty() ? std::string("no ERR bits") : names));
  }
  if (m.di != di_)
    return fail(Failure::wrong_di, "reply carries DI " + format_di(edition_, m.di.value_or(0)) + ", asked for " +
                                       format_di(edition_, di_));
  if (edition_ == Edition::v2007 && next_seq_ != 0 && m.seq != next_seq_)
    return fail(Failure::wrong_seq, "follow-up reply has SEQ " + std::to_string(m.seq.value_or(0)) + ", asked for " +
                                        std::to_string(next_seq_));
  value_.insert(value_.end(), m.value.begin(), m.value.end());
  ++frames_;
  if (!m.follow_up) {
    finished_ = true;
    return Step::done;
  }
  if (frames_ >= kMaxFrames)
    return fail(Failure::too_many_frames, "meter still signals follow-up frames after " + std::to_string(frames_));
  ++next_seq_;
  request_ = edition_ == Edition::v2007
                 ? make_read_follow_up_request(request_.address, di_, next_seq_)
                 : make_read_follow_up_request_1997(request_.address, static_cast<std::uint16_t>(di_));
  return Step::send_next;
}

}  // namespace ami::dlt645
