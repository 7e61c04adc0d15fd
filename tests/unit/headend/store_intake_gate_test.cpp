// StoreIntakeGate (headend/collection/store_intake_gate.hpp): admission by store backlog, FIFO
// wake-ups, the re-check timer, withdraw, stop and limit 0.
#include <catch2/catch.hpp>

#include <deque>
#include <vector>

#include "headend/collection/store_intake_gate.hpp"
#include "tests/unit/headend/run_coroutine.hpp"

using namespace ami;
using namespace ami::collection;
using namespace std::chrono_literals;

namespace {

// Coroutines that ask the gate and record who was admitted (true) or turned away (false), in order.
struct GateCallers {
  GateCallers(asio::io_context& context, StoreIntakeGate& intake) : io(context), gate(intake) {}
  asio::io_context& io;
  StoreIntakeGate& gate;
  std::vector<int> admitted;
  std::vector<int> withdrawn;

  void spawn(int id) {
    asio::co_spawn(io, ask(id), asio::detached);
  }
  asio::awaitable<void> ask(int id) {
    const bool ok = co_await gate.admit(&ids_[static_cast<std::size_t>(id)]);
    (ok ? admitted : withdrawn).push_back(id);
  }
  const void* who(int id) const { return &ids_[static_cast<std::size_t>(id)]; }

 private:
  int ids_[8] = {};
};

}  // namespace

TEST_CASE("intake gate: admits below the limit at once, holds at it, wakes waiters in order on progress",
          "[worker][gate]") {
  asio::io_context io;
  std::size_t backlog = 9;
  std::deque<std::size_t> scripted;  // values the next backlog reads return, before `backlog`
  StoreIntakeGate gate(io.get_executor(), 10, [&] {
    if (scripted.empty()) return backlog;
    const auto value = scripted.front();
    scripted.pop_front();
    return value;
  }, 10s);  // no re-check during the test: only on_progress wakes
  GateCallers callers(io, gate);
  callers.spawn(0);
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 1; }, 2s));
  CHECK(gate.waiting() == 0);

  backlog = 10;  // at the limit: held
  for (int id = 1; id <= 3; ++id) callers.spawn(id);
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 3; }, 2s));
  gate.on_progress();  // still at the limit
  CHECK(gate.waiting() == 3);
  backlog = 0;  // room, but nobody overtakes the queue: a newcomer waits behind it
  callers.spawn(4);
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 4; }, 2s));
  CHECK(callers.admitted == std::vector<int>{0});

  scripted = {3, 5, 12};  // two admissions fit, then the backlog is over the limit again
  gate.on_progress();
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 3; }, 2s));
  CHECK(callers.admitted == std::vector<int>{0, 1, 2});
  CHECK(gate.waiting() == 2);
  gate.on_progress();  // backlog 0 now
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 5; }, 2s));
  CHECK(callers.admitted == std::vector<int>{0, 1, 2, 3, 4});
  CHECK(callers.withdrawn.empty());
  gate.stop();
}

TEST_CASE("intake gate: the re-check timer admits waiters when the writer catches up without a progress call",
          "[worker][gate]") {
  asio::io_context io;
  std::size_t backlog = 50;
  int backlog_reads = 0;
  StoreIntakeGate gate(io.get_executor(), 10, [&] {
    ++backlog_reads;
    return backlog;
  }, 20ms);
  GateCallers callers(io, gate);
  callers.spawn(0);
  callers.spawn(1);
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 2; }, 2s));
  const int reads_before = backlog_reads;
  REQUIRE(test::run_until(io, [&] { return backlog_reads > reads_before + 2; }, 2s));  // it keeps re-checking
  CHECK(callers.admitted.empty());
  backlog = 4;  // nobody calls on_progress()
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 2; }, 2s));
  CHECK(callers.admitted == std::vector<int>{0, 1});
  gate.stop();
}

TEST_CASE("intake gate: withdraw turns one waiter away, stop releases every waiter and opens the gate",
          "[worker][gate]") {
  asio::io_context io;
  StoreIntakeGate gate(io.get_executor(), 10, [] { return std::size_t{1000}; }, 10s);
  GateCallers callers(io, gate);
  for (int id = 0; id < 3; ++id) callers.spawn(id);
  REQUIRE(test::run_until(io, [&] { return gate.waiting() == 3; }, 2s));
  gate.withdraw(callers.who(1));
  gate.withdraw(callers.who(7));  // not waiting: no effect
  REQUIRE(test::run_until(io, [&] { return callers.withdrawn.size() == 1; }, 2s));
  CHECK(callers.withdrawn == std::vector<int>{1});
  CHECK(gate.waiting() == 2);

  gate.stop();  // prompt: no timer, no progress needed
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 2; }, 1s));
  CHECK(callers.admitted == std::vector<int>{0, 2});
  callers.spawn(3);  // after stop nobody waits, whatever the backlog
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 3; }, 1s));
  CHECK(gate.waiting() == 0);
}

TEST_CASE("intake gate: a limit of 0 never waits", "[worker][gate]") {
  asio::io_context io;
  int backlog_reads = 0;
  StoreIntakeGate gate(io.get_executor(), 0, [&] {
    ++backlog_reads;
    return std::size_t{1'000'000};
  });
  GateCallers callers(io, gate);
  for (int id = 0; id < 3; ++id) callers.spawn(id);
  REQUIRE(test::run_until(io, [&] { return callers.admitted.size() == 3; }, 1s));
  CHECK(gate.waiting() == 0);
  CHECK(backlog_reads == 0);
}
