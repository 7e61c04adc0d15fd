// Runs one attempt of a freeze backfill job (ReadJob::freeze, freeze_read.hpp) on a DL/T 645
// channel: the wire half of freeze_read.hpp. Four reads of the freeze "n back" that holds the
// job's boundary: its time (which freeze n reached on the meter's clock; a wrong n is corrected
// from it and read again), forward and reverse active energy, and its time again (a freeze the
// meter took meanwhile shifts every n by one: the values are then read again). On success
// report.snapshots holds one snapshot at the boundary and report.collected_at the reply time.
//
// Threads: the io_context's thread, inside the worker that owns the channel (one transaction at a
// time). Errors: the attempt's outcome and detail; nothing throws.
#pragma once

#include "headend/collection/read_job.hpp"
#include "headend/collection/tcp_gateway_channel.hpp"
#include "headend/runtime/asio.hpp"
#include "protocols/common/clock.hpp"

namespace ami::collection {

asio::awaitable<AttemptReport> attempt_freeze(Dlt645Channel& channel, Clock clock, const ReadJob& job,
                                              JobReport& report);

}  // namespace ami::collection
