// argon2's memory, kept between calls, in the hash helper process (docs/architecture.md, "argon2's
// memory").
//
// libsodium 1.0.18 maps the m KiB of every argon2 call with
//   mmap(NULL, m KiB, PROT_READ|PROT_WRITE, MAP_ANONYMOUS|MAP_PRIVATE|MAP_POPULATE, -1, 0)
// and unmaps it at the end, through its PLT: the kernel zeroes and maps m/4 pages per login, a
// third of a verification's time. This executable defines mmap and munmap itself (the dynamic
// linker binds libsodium's calls to them): once switched on, the exact request above, made from
// libsodium's code, is answered with a region this process keeps (pre-faulted, on huge pages where
// the kernel gives them, excluded from core dumps), and libsodium's munmap of it wipes it (or,
// with deferred wipes, marks it to be wiped) instead of unmapping. Every other call goes to the C
// library's mmap/munmap, unchanged. Off (the default), both functions only forward: so in authd's
// main process, which never switches it on.
//
// Not built in sanitizer builds (their runtimes intercept mmap themselves) nor with
// -DAUTHD_ARGON2_MEMORY=0: enable_argon2_memory() is then false and nothing else changes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace authd::server {

// Whether this build has the mechanism at all.
bool argon2_memory_built_in() noexcept;

// Switches it on in the calling process, with a region of at least initial_bytes made now. For a
// process that does nothing but argon2 calls, from one thread: the hash helper. False (and off)
// when not built in, when libsodium's code cannot be found, or when no region can be made.
bool enable_argon2_memory(std::size_t initial_bytes) noexcept;

// Off again; the region is unmapped (it is never lent when this is called between argon2 calls).
void disable_argon2_memory() noexcept;

// Deferred wipes, for a caller that has something to do first (the helper: send its answer). With
// deferred on, libsodium's release of the kept memory at the end of an argon2 call marks it to be
// wiped instead of wiping it there and then, and argon2_memory_wipe() wipes it; a wipe still
// pending is done before the memory is lent again, resized or given up, and when deferral is
// switched off. Off by default: wiped at the release, inside the argon2 call.
void defer_argon2_memory_wipe(bool deferred) noexcept;
// Wipes what a deferred release left; true when there was something to wipe.
bool argon2_memory_wipe() noexcept;

// The largest argon2 memory kept: a larger request goes to the kernel as without the mechanism.
inline constexpr std::size_t argon2_memory_max_kept_bytes = std::size_t{256} * 1024 * 1024;

struct argon2_memory_stats {
    bool active = false;           // on, and requests are answered from the region
    bool retired = false;          // an unexpected munmap of the region turned it off for good
    std::uint64_t lent = 0;        // requests answered from the region
    std::uint64_t grown = 0;       // times the region was replaced by a larger one
    std::size_t region_bytes = 0;  // kept, resident
};
argon2_memory_stats argon2_memory_stats_now() noexcept;

// Test hooks. The number of bytes of the region (lent or not) that are not zero: 0 after every
// call, since each release is wiped (with deferred wipes: after argon2_memory_wipe()). Whether p
// lies in the region. Where the region is (null: none).
std::size_t argon2_memory_nonzero_bytes() noexcept;
bool argon2_memory_owns(const void* p) noexcept;
void* argon2_memory_region() noexcept;

}  // namespace authd::server
