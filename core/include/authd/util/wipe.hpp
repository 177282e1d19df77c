// Wiping a string that held a secret (a password, a key) before its storage is released or
// reused: explicit_bzero, which the compiler may not elide (glibc; libsodium's sodium_memzero does
// the same for authd's other secrets).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace authd {

void wipe(std::string& s) noexcept;
void wipe(void* data, std::size_t size) noexcept;

// An allocator that wipes what it frees: for a container whose storage held secrets and that
// frees or moves it on its own (a connection's read buffer, whose requests carry passwords: it
// grows, shrinks and is freed when the connection closes or parks).
template <class T>
struct wiping_allocator {
    using value_type = T;

    wiping_allocator() noexcept = default;
    template <class U>
    wiping_allocator(const wiping_allocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)

    T* allocate(std::size_t n) { return std::allocator<T>{}.allocate(n); }
    void deallocate(T* p, std::size_t n) noexcept {
        wipe(p, n * sizeof(T));
        std::allocator<T>{}.deallocate(p, n);
    }
    friend bool operator==(const wiping_allocator&, const wiping_allocator&) noexcept {
        return true;
    }
};

}  // namespace authd
