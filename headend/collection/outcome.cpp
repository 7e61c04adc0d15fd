#include "headend/collection/outcome.hpp"

namespace ami::collection {

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok: return "ok";
    case Outcome::timeout: return "timeout";
    case Outcome::connection_refused: return "connection_refused";
    case Outcome::unreachable: return "unreachable";
    case Outcome::connection_lost: return "connection_lost";
    case Outcome::too_late: return "too_late";
    case Outcome::bad_frame: return "bad_frame";
    case Outcome::unexpected_address: return "unexpected_address";
    case Outcome::meter_error: return "meter_error";
    case Outcome::bad_reply: return "bad_reply";
    case Outcome::missing_record: return "missing_record";
    case Outcome::unsupported: return "unsupported";
    case Outcome::cancelled: return "cancelled";
  }
  return "unknown";
}

OutcomeCategory category_of(Outcome outcome) {
  switch (outcome) {
    case Outcome::ok: return OutcomeCategory::ok;
    case Outcome::timeout:
    case Outcome::connection_refused:
    case Outcome::unreachable:
    case Outcome::connection_lost:
    case Outcome::too_late:
    case Outcome::cancelled: return OutcomeCategory::transport;
    case Outcome::bad_frame:
    case Outcome::unexpected_address:
    case Outcome::meter_error:
    case Outcome::bad_reply:
    case Outcome::missing_record:
    case Outcome::unsupported: return OutcomeCategory::meter;
  }
  return OutcomeCategory::meter;
}

std::string_view to_string(OutcomeCategory category) {
  switch (category) {
    case OutcomeCategory::ok: return "ok";
    case OutcomeCategory::transport: return "transport";
    case OutcomeCategory::meter: return "meter";
  }
  return "meter";
}

}  // namespace ami::collection
