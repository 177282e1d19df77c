// Wiping a string that held a secret (a password, a key) before its storage is released or
// reused: explicit_bzero, which the compiler may not elide (glibc; libsodium's sodium_memzero does
// the same for authd's other secrets).
#pragma once

#include <string>

namespace authd {

void wipe(std::string& s) noexcept;

}  // namespace authd
