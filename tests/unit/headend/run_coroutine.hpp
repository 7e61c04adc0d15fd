// Test helper: run one coroutine on an io_context until it finishes (other work, such as a fake
// gateway's accept loop, keeps running meanwhile). Rethrows what the coroutine threw; fails the
// test if it has not finished within `limit` (a hang is a defect, not a slow machine).
#pragma once

#include <catch2/catch.hpp>

#include <chrono>
#include <exception>
#include <optional>

#include "headend/runtime/asio.hpp"

namespace ami::test {

template <class T>
T run_coroutine(asio::io_context& io, asio::awaitable<T> coroutine, std::chrono::seconds limit = std::chrono::seconds{20}) {
  std::optional<T> result;
  std::exception_ptr error;
  bool done = false;
  asio::co_spawn(io, std::move(coroutine), [&](std::exception_ptr e, T value) {
    error = e;
    if (!e) result = std::move(value);
    done = true;
  });
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_until(deadline);
  REQUIRE(done);
  if (error) std::rethrow_exception(error);
  return std::move(*result);
}

// Runs the io_context until `predicate()` holds or `limit` passes; returns the predicate's value.
template <class Predicate>
bool run_until(asio::io_context& io, Predicate predicate, std::chrono::milliseconds limit) {
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!predicate() && std::chrono::steady_clock::now() < deadline)
    io.run_one_until(std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds{5}));
  return predicate();
}

}  // namespace ami::test
