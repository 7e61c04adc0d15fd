// The one way project code includes Boost.Asio. GCC 12 with Boost 1.74 fails to compile
// <boost/asio.hpp> unless <utility> comes first, so every Asio user includes this header instead.
// Boost 1.74 = Asio 1.18: awaitable/co_spawn/use_awaitable/redirect_error exist; as_tuple,
// parallel_group, awaitable operators and cancellation slots do not.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ami {
namespace asio = boost::asio;
}  // namespace ami
