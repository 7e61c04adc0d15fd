// The billing feed's promises (issue 8), proved against the real processes: meter-sim serves a
// DL/T 645 fleet, the headend daemon collects it on an accelerated clock and serves its feed port,
// and consumers in this process talk to that port.
//   - crash safety: kill -9 the daemon at random moments 20+ times with a consumer attached; the
//     consumer's de-duplicated set equals what the daemon committed, exactly, and the meters' truth;
//   - a consumer offline for a simulated day gets everything it missed, in order per meter;
//   - bad input on the feed port gets a clear error for that client only.
#include <catch2/catch.hpp>

#include <set>

#include "headend/feed/feed_client.hpp"
#include "tests/integration/feed/feed_run.hpp"

using namespace std::chrono;
using ami::feed::FeedClient;
using ami::feed::FeedClientError;
using ami::test::feed::deduplicate;
using ami::test::feed::FeedRun;
using ami::test::feed::ReconnectingConsumer;
namespace v1 = headend::feed::v1;

namespace {

template <typename Predicate>
bool eventually(Predicate done, milliseconds timeout) {
  const auto deadline = steady_clock::now() + timeout;
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds{50});
  }
  return true;
}

ami::UtcMillis sim_time(const char* iso) { return ami::UtcMillis{*ami::parse_utc(iso)}; }

std::uint64_t head_of(const std::vector<v1::IntervalReading>& rows) { return rows.empty() ? 0 : rows.back().sequence(); }

v1::Subscribe subscribe_message(const std::string& consumer, const std::string& token) {
  v1::Subscribe s;
  s.set_consumer(consumer);
  s.set_token(token);
  return s;
}

// Every received interval must carry the value the simulated meter really measured.
void check_against_truth(const FeedRun& run, const std::map<ami::test::feed::IntervalId, v1::IntervalReading>& got) {
  for (const auto& meter : run.meter_ids()) {
    std::int64_t lo = INT64_MAX;
    std::int64_t hi = INT64_MIN;
    for (const auto& [id, r] : got) {
      if (id.meter_id != meter) continue;
      lo = std::min(lo, r.start_unix());
      hi = std::max(hi, r.end_unix());
    }
    if (lo > hi) continue;
    const auto truth = run.truth(meter, ami::UtcSeconds{seconds{lo}}, ami::UtcSeconds{seconds{hi}});
    for (const auto& [id, r] : got) {
      if (id.meter_id != meter) continue;
      INFO("meter " << meter << " " << v1::ReadingKind_Name(r.kind()) << " ending "
                    << ami::format_utc(ami::UtcSeconds{seconds{r.end_unix()}}));
      REQUIRE(truth.count(r.end_unix()) == 1);
      const auto& [forward, reverse] = truth.at(r.end_unix());
      CHECK(r.value_wh() == (r.kind() == v1::READING_KIND_FORWARD_ACTIVE_ENERGY ? forward : reverse));
    }
  }
}

}  // namespace

TEST_CASE("feed crash safety: kill -9 the daemon 22 times with a consumer attached, nothing lost, no phantom",
          "[integration][feed][crash]") {
  FeedRun run("feed_crash", 1200, "2026-01-05T00:00:00Z", 4);
  run.start_simulator();
  ReconnectingConsumer consumer(run.feed_port(), FeedRun::consumers()[0]);

  run.kill_daemon_at_random_moments(22, milliseconds{1800});

  // A last, uninterrupted run: collect a few more boundaries, then let the consumer catch up.
  run.start_daemon_and_wait_for_feed();
  run.wait_until_sim(run.clock().now() + minutes{50});
  // Freeze the outbox: without meters no new interval is derived once the cycle in flight ends.
  run.stop_simulator();
  run.wait_until_sim(run.clock().now() + minutes{30});
  const auto head = head_of(run.outbox());
  REQUIRE(head > 0);
  REQUIRE(eventually([&] { return consumer.last_acked() >= head; }, seconds{60}));
  CHECK(run.stop_daemon() == 0);
  consumer.stop();
  REQUIRE(head_of(run.outbox()) == head);  // the comparison below is against a final outbox

  const auto expected = deduplicate(run.outbox());
  const auto got = deduplicate(consumer.received());
  CHECK(got.conflicts.empty());  // a re-delivery is byte-identical to the first delivery
  CHECK(consumer.sessions() > 1);  // the consumer was attached across the kills
  // No loss: every committed interval (latest version) reached the consumer, identical.
  for (const auto& [id, r] : expected.latest) {
    INFO(r.idempotency_key());
    const auto it = got.latest.find(id);
    REQUIRE(it != got.latest.end());
    CHECK(it->second.version() == r.version());
    CHECK(it->second.value_wh() == r.value_wh());
    CHECK(it->second.idempotency_key() == r.idempotency_key());
  }
  // No phantom: nothing the daemon did not commit.
  for (const auto& [id, r] : got.latest) {
    INFO(r.idempotency_key());
    CHECK(expected.latest.count(id) == 1);
  }
  CHECK(got.latest.size() == expected.latest.size());
  check_against_truth(run, got.latest);
}

TEST_CASE("feed offline consumer: away for a simulated day, it receives everything it missed, in order per meter",
          "[integration][feed][offline]") {
  FeedRun run("feed_offline_day", 4800, "2026-01-05T00:00:00Z", 3);
  run.start_simulator();
  run.start_daemon_and_wait_for_feed();
  const auto& audit = FeedRun::consumers()[1];
  ReconnectingConsumer billing(run.feed_port(), FeedRun::consumers()[0]);  // stays online throughout

  // The audit consumer reads the first hour, acknowledges it and goes away.
  run.wait_until_sim(sim_time("2026-01-05T01:05:00Z"));
  std::uint64_t acked = 0;
  {
    FeedClient client("127.0.0.1", run.feed_port());
    client.connect(seconds{2});
    const auto subscribed = client.subscribe(subscribe_message(audit.name, audit.token), seconds{5});
    CHECK(subscribed.resume_sequence() == 1);
    REQUIRE(subscribed.head_sequence() > 0);
    while (acked < subscribed.head_sequence()) {
      const auto message = client.next(seconds{5});
      REQUIRE(message);
      if (!message->has_batch()) continue;
      acked = message->batch().sequence();
      client.ack(acked, seconds{2});
    }
    std::this_thread::sleep_for(milliseconds{200});  // let the server store the last ack before we vanish
    client.close();
  }
  const auto offline_at = run.clock().now();

  // A simulated day (and a bit) passes while it is away.
  run.wait_until_sim(offline_at + hours{24} + minutes{20});

  FeedClient client("127.0.0.1", run.feed_port());
  client.connect(seconds{2});
  const auto subscribed = client.subscribe(subscribe_message(audit.name, audit.token), seconds{5});
  CHECK(subscribed.resume_sequence() == acked + 1);  // resumes exactly after its durable cursor
  const auto target = subscribed.head_sequence();
  std::vector<v1::IntervalReading> missed;
  while (missed.empty() || missed.back().sequence() < target) {
    const auto message = client.next(seconds{10});
    REQUIRE(message);
    REQUIRE_FALSE(message->has_error());
    if (!message->has_batch()) continue;
    for (const auto& r : message->batch().intervals()) missed.push_back(r);
    client.ack(message->batch().sequence(), seconds{2});
  }
  client.close();

  // Exactly the outbox rows after its cursor, in sequence order, identical.
  const auto outbox = run.outbox();
  std::vector<const v1::IntervalReading*> expected;
  for (const auto& r : outbox)
    if (r.sequence() > acked && r.sequence() <= missed.back().sequence()) expected.push_back(&r);
  REQUIRE(missed.size() == expected.size());
  for (std::size_t i = 0; i < missed.size(); ++i) {
    INFO("position " << i);
    CHECK(missed[i].SerializeAsString() == expected[i]->SerializeAsString());
  }
  // In order per meter and reading type, and a whole day of intervals for every one.
  std::map<std::pair<std::string, int>, std::vector<std::int64_t>> ends;
  for (const auto& r : missed) ends[{r.meter_id(), r.kind()}].push_back(r.end_unix());
  CHECK(ends.size() == run.meter_ids().size() * 2);
  const auto day_from = std::chrono::duration_cast<seconds>(offline_at.time_since_epoch()).count();
  for (const auto& [key, list] : ends) {
    INFO("meter " << key.first << " kind " << key.second);
    CHECK(std::is_sorted(list.begin(), list.end()));
    CHECK(std::adjacent_find(list.begin(), list.end()) == list.end());
    const auto in_day = std::count_if(list.begin(), list.end(),
                                      [&](std::int64_t e) { return e > day_from && e <= day_from + 86400; });
    CHECK(in_day >= 95);  // 96 boundaries in a day; the first may have been read before it went away
  }

  // Replay from a sequence and from a time both start where they should.
  {
    FeedClient replay("127.0.0.1", run.feed_port());
    replay.connect(seconds{2});
    auto s = subscribe_message("spare", "spare-secret");
    s.set_from_sequence(outbox.front().sequence() + 10);
    CHECK(replay.subscribe(s, seconds{5}).resume_sequence() == outbox.front().sequence() + 10);
    const auto first = replay.next(seconds{5});
    REQUIRE(first);
    REQUIRE(first->has_batch());
    CHECK(first->batch().intervals(0).sequence() == outbox.front().sequence() + 10);
  }
  {
    FeedClient replay("127.0.0.1", run.feed_port());
    replay.connect(seconds{2});
    auto s = subscribe_message("spare", "spare-secret");
    s.set_from_time_unix(day_from);
    const auto it = std::find_if(outbox.begin(), outbox.end(),
                                 [&](const v1::IntervalReading& r) { return r.collected_unix_ms() >= day_from * 1000; });
    REQUIRE(it != outbox.end());
    CHECK(replay.subscribe(s, seconds{5}).resume_sequence() == it->sequence());
  }

  // The consumer that stayed online got the same data meanwhile.
  REQUIRE(eventually([&] { return billing.last_acked() >= missed.back().sequence(); }, seconds{30}));
  CHECK(run.stop_daemon() == 0);
  billing.stop();
  CHECK(billing.sessions() == 1);
  const auto billing_got = deduplicate(billing.received());
  CHECK(billing_got.latest.size() >= deduplicate(missed).latest.size());
  check_against_truth(run, deduplicate(missed).latest);
}

TEST_CASE("feed bad input: garbage, oversize prefix, unknown consumer, wrong token get a clear error, others unaffected",
          "[integration][feed][bad-input]") {
  FeedRun run("feed_bad_input", 1200, "2026-01-05T00:00:00Z", 2);
  run.start_simulator();
  run.start_daemon_and_wait_for_feed();
  ReconnectingConsumer billing(run.feed_port(), FeedRun::consumers()[0]);
  REQUIRE(eventually([&] { return billing.last_acked() > 0; }, seconds{30}));

  struct BadClient {
    std::string what;
    std::string bytes;
    v1::Error::Code code;
    std::string says;
  };
  auto delimited = [](const google::protobuf::Message& m) {
    std::string out;
    ami::feed::append_delimited(m.SerializeAsString(), out);
    return out;
  };
  auto client_message = [](const v1::Subscribe& s) {
    v1::ClientMessage m;
    *m.mutable_subscribe() = s;
    return m;
  };
  v1::ClientMessage early_ack;
  early_ack.mutable_ack()->set_sequence(5);
  std::string oversize;
  ami::feed::append_varint(std::uint64_t{1} << 30, oversize);
  oversize += "x";
  std::string junk_payload;
  ami::feed::append_delimited("this is not a protobuf message \x07\x07\x07", junk_payload);

  const std::vector<BadClient> cases = {
      {"a malformed length prefix", std::string(11, '\xff'), v1::Error::CODE_BAD_REQUEST, "varint"},
      {"a payload that is not a ClientMessage", junk_payload, v1::Error::CODE_BAD_REQUEST, ""},
      {"an oversize length prefix", oversize, v1::Error::CODE_MESSAGE_TOO_LARGE, "exceeds"},
      {"an unknown consumer", delimited(client_message(subscribe_message("mallory", "x"))),
       v1::Error::CODE_UNKNOWN_CONSUMER, "mallory"},
      {"a wrong token", delimited(client_message(subscribe_message("audit", "guess"))), v1::Error::CODE_UNAUTHORIZED,
       "audit"},
      {"an Ack before Subscribe", delimited(early_ack), v1::Error::CODE_BAD_REQUEST, "Subscribe"},
  };
  for (const auto& bad : cases) {
    INFO("client sends " << bad.what);
    const auto acked_before = billing.last_acked();
    FeedClient client("127.0.0.1", run.feed_port());
    client.connect(seconds{2});
    client.send_raw(bad.bytes, seconds{2});
    const auto reply = client.next(seconds{5});
    REQUIRE(reply);
    REQUIRE(reply->has_error());
    CHECK(reply->error().code() == bad.code);
    CHECK_FALSE(reply->error().message().empty());
    CHECK(reply->error().message().find(bad.says) != std::string::npos);
    // The server closes that connection after the error.
    bool closed = false;
    try {
      (void)client.next(seconds{3});  // a message or a timeout means the connection stayed open
    } catch (const FeedClientError&) {
      closed = true;
    }
    CHECK(closed);
    // The daemon and the well-behaved consumer carry on.
    REQUIRE(run.daemon_running());
    CHECK(eventually([&] { return billing.last_acked() > acked_before; }, seconds{20}));
  }

  // A correct subscription still works after all that.
  FeedClient audit("127.0.0.1", run.feed_port());
  audit.connect(seconds{2});
  const auto subscribed = audit.subscribe(subscribe_message("audit", "audit-secret"), seconds{5});
  CHECK(subscribed.resume_sequence() == 1);
  audit.close();

  CHECK(run.stop_daemon() == 0);
  billing.stop();
  CHECK(billing.sessions() == 1);  // never disconnected by the bad clients
}
