// Runs one clock job (ClockCommand) on a gateway channel: the wire half of clock_sync.hpp.
//   read:      11H 04000101 (date), 11H 04000102 (time), and the date again when the time is in
//              the first minute of a day (the two reads may straddle midnight). The reading refers
//              to the middle of the time read's round trip on the wire (simulated time).
//   broadcast: 08H to 99..99 carrying the head-end time in the meter's local time. Nobody
//              answers: the channel waits its response timeout, and a timeout means "sent".
//   set_time:  14H write of 04000102 with the policy's password; 94H is ok, D4H a meter error.
// One attempt per job (the supervisor retries later). Fills report.attempts, report.meter_clock,
// report.collected_at and report.clock_sent.
//
// Threads: the io_context's thread, inside the worker that owns the channel (one transaction at a
// time). Errors: outcomes in the report; nothing throws.
#pragma once

#include "headend/collection/clock_sync.hpp"
#include "headend/collection/read_job.hpp"
#include "headend/collection/tcp_gateway_channel.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::collection {

asio::awaitable<void> run_clock_job(TcpGatewayChannel& channel, Clock clock, const ClockPolicy& policy,
                                    const ReadJob& job, JobReport& report);

}  // namespace ami::collection
