// storage::InternedString (storage/interned_string.hpp): the process's one interning pool, used by
// the collection engine's targets and by storage's AttemptRecord and intern_attempt_text().
#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

#include "storage/interned_string.hpp"
#include "storage/types.hpp"

using ami::storage::InternedString;

TEST_CASE("interning pool: the same text from different strings gives the same pooled copy", "[interned]") {
  const std::string built = std::string("tcp://192.0.2.1:") + "8899";  // longer than the SSO buffer
  const std::string other = built;
  const InternedString a = built;
  const InternedString b = std::string_view(other);
  const InternedString c("tcp://192.0.2.1:8898");
  CHECK(&a.str() == &b.str());
  CHECK(a.str().data() != built.data());  // the pool's copy, not the caller's
  CHECK(&a.str() != &c.str());
  CHECK(a.view() == "tcp://192.0.2.1:8899");
  CHECK(InternedString().view().empty());
  CHECK(&InternedString().str() == &InternedString("").str());
}

TEST_CASE("interning pool: intern_attempt_text and InternedString share one pool", "[interned]") {
  const std::string text = "gateway_gone_" + std::to_string(42);
  const auto view = ami::storage::intern_attempt_text(text);
  CHECK(view.data() == InternedString(text).str().data());
  CHECK(view.data() != text.data());
}

TEST_CASE("interning pool: a queued attempt's channel is a pointer into the pool", "[interned]") {
  ami::storage::AttemptRecord first;
  ami::storage::AttemptRecord second;
  first.channel = std::string("tcp://192.0.2.7:") + "502";
  second.channel = "tcp://192.0.2.7:502";
  CHECK(&first.channel.str() == &second.channel.str());
  CHECK(first.channel == "tcp://192.0.2.7:502");
  STATIC_REQUIRE(sizeof(ami::storage::AttemptRecord::channel) == sizeof(void*));
}

TEST_CASE("interning pool: threads interning overlapping values get the same copies", "[interned]") {
  constexpr int kValues = 200;
  constexpr int kThreads = 4;
  std::vector<std::vector<const std::string*>> seen(kThreads, std::vector<const std::string*>(kValues));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&seen, t] {
      // Each thread walks the values from a different start, so first insertions race.
      for (int k = 0; k < kValues; ++k) {
        const int i = (k + t * 37) % kValues;
        seen[static_cast<std::size_t>(t)][static_cast<std::size_t>(i)] =
            &InternedString("serial:///dev/ttyPool" + std::to_string(i)).str();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 1; t < kThreads; ++t) CHECK(seen[static_cast<std::size_t>(t)] == seen[0]);
  CHECK(*seen[0][3] == "serial:///dev/ttyPool3");
  CHECK(seen[0][3] != seen[0][4]);
}
