// The outcome of one read attempt, as recorded in the attempts table and counted in KPIs.
// Transport outcomes (nobody answered, the link failed) are kept apart from meter outcomes (a
// meter answered, but not with the data asked for): a dead gateway must stand out from a dead meter.
// Pure values; any thread.
#pragma once

#include <string_view>

namespace ami::collection {

enum class Outcome {
  ok,
  timeout,             // transport: no matching reply within the response timeout
  connection_refused,  // transport: the gateway refused the TCP connection, or closed it before it carried
                       // a single byte (a gateway that accepts and drops at once refuses service)
  unreachable,         // transport: no connection (connect failed, timed out, or reconnect backoff)
  connection_lost,     // transport: the connection broke during the transaction
  too_late,            // transport: a register read completed outside the boundary tolerance (Modbus)
  bad_frame,           // meter: only corrupt frames (checksum, end byte) arrived
  unexpected_address,  // meter: only frames from another address arrived
  meter_error,         // meter: abnormal reply; detail carries the ERR reason
  bad_reply,           // meter: a well-formed reply whose content could not be used
  missing_record,      // meter: the meter has no record for the requested boundary (yet)
  unsupported,         // meter: the registry protocol is not collected by this daemon yet
  cancelled,           // the daemon is shutting down (not a meter or transport fault; never retried)
};

enum class OutcomeCategory { ok, transport, meter };

std::string_view to_string(Outcome outcome);
OutcomeCategory category_of(Outcome outcome);
std::string_view to_string(OutcomeCategory category);

}  // namespace ami::collection
