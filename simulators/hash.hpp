// Deterministic hashing for the simulator: every "random" choice derives from (seed, key) so that
// the same fleet description and seed give the same meters, loads and faults in every process.
// Pure, constexpr; any thread.
#pragma once

#include <cstdint>

namespace ami::sim {

// splitmix64 finaliser: a bijective 64-bit mix with good avalanche.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A stream of values for one (seed, key): next() never repeats the same sequence for other keys.
class HashStream {
 public:
  constexpr HashStream(std::uint64_t seed, std::uint64_t key) : state_(mix64(seed) ^ mix64(key ^ 0x5A17ull)) {}
  constexpr std::uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    return mix64(state_);
  }

 private:
  std::uint64_t state_;
};

}  // namespace ami::sim
