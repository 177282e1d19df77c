// The completion token of every operation an I/O thread's coroutines await: the error comes back
// in a tuple with the result, never as an exception, so that a failed read or write is an
// ordinary branch.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace authd::server {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace authd::server
