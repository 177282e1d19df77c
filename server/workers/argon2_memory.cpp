#include "workers/argon2_memory.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <mutex>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sodium.h>

// Built in unless the build says otherwise or a sanitizer's runtime intercepts mmap itself.
#if !defined(AUTHD_ARGON2_MEMORY)
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define AUTHD_ARGON2_MEMORY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer) || __has_feature(hwaddress_sanitizer)
#define AUTHD_ARGON2_MEMORY 0
#endif
#endif
#endif
#if !defined(AUTHD_ARGON2_MEMORY)
#if defined(__linux__) && defined(MAP_POPULATE)
#define AUTHD_ARGON2_MEMORY 1
#else
#define AUTHD_ARGON2_MEMORY 0
#endif
#endif

#if AUTHD_ARGON2_MEMORY

namespace {

// libsodium 1.0.18's request (argon2-core.c, allocate_memory; MAP_NOCORE is 0 on Linux).
constexpr int argon2_prot = PROT_READ | PROT_WRITE;
constexpr int argon2_flags = MAP_ANONYMOUS | MAP_PRIVATE | MAP_POPULATE;
// argon2 sizes are 1 KiB blocks in multiples of 4 (segments): whole pages.
constexpr std::size_t page_bytes = 4096;
constexpr std::size_t huge_page_bytes = std::size_t{2} * 1024 * 1024;

// The C library's functions, which every call not answered here goes to (resolved on first use;
// the raw system call if the dynamic linker had none, which it always has).
using mmap_fn = void* (*)(void*, std::size_t, int, int, int, off_t);
using munmap_fn = int (*)(void*, std::size_t);

void* syscall_mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t offset) {
    if ((offset & static_cast<off_t>(page_bytes - 1)) != 0) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    // The raw system call returns the address as a long.
    return reinterpret_cast<void*>(  // NOLINT(performance-no-int-to-ptr)
        ::syscall(SYS_mmap, addr, len, prot, flags, fd, offset));
}

int syscall_munmap(void* addr, std::size_t len) {
    return static_cast<int>(::syscall(SYS_munmap, addr, len));
}

template <typename Fn>
Fn next_function(std::atomic<Fn>& cache, const char* name, Fn fallback) {
    Fn fn = cache.load(std::memory_order_acquire);
    if (fn == nullptr) {
        fn = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
        if (fn == nullptr) {
            fn = fallback;
        }
        cache.store(fn, std::memory_order_release);
    }
    return fn;
}

std::atomic<mmap_fn> next_mmap_cache{nullptr};
std::atomic<munmap_fn> next_munmap_cache{nullptr};

void* next_mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t offset) {
    return next_function(next_mmap_cache, "mmap", &syscall_mmap)(addr, len, prot, flags, fd,
                                                                 offset);
}

int next_munmap(void* addr, std::size_t len) {
    return next_function(next_munmap_cache, "munmap", &syscall_munmap)(addr, len);
}

// libsodium's executable segments: only calls returning there are argon2's.
struct code_range {
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
};
constexpr int max_code_ranges = 8;
code_range sodium_code[max_code_ranges];
int sodium_code_count = 0;

int find_sodium_code(dl_phdr_info* info, std::size_t, void* data) {
    if (info->dlpi_name == nullptr || info->dlpi_name[0] == '\0') {
        return 0;  // the executable itself (a static libsodium in it is not told apart)
    }
    const auto target = *static_cast<std::uintptr_t*>(data);
    bool holds_target = false;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
        if (ph.p_type == PT_LOAD && target >= begin && target < begin + ph.p_memsz) {
            holds_target = true;
        }
    }
    if (!holds_target) {
        return 0;
    }
    for (int i = 0; i < info->dlpi_phnum && sodium_code_count < max_code_ranges; ++i) {
        const ElfW(Phdr)& ph = info->dlpi_phdr[i];
        if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
            const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
            sodium_code[sodium_code_count++] = {begin, begin + ph.p_memsz};
        }
    }
    return 1;
}

bool from_sodium(const void* return_address) {
    const auto at = reinterpret_cast<std::uintptr_t>(return_address);
    for (int i = 0; i < sodium_code_count; ++i) {
        if (at >= sodium_code[i].begin && at < sodium_code[i].end) {
            return true;
        }
    }
    return false;
}

// The state. on and base are read by every mmap/munmap of the process (in authd's main process
// they stay false and null); the rest only under the lock.
std::atomic<bool> on{false};
std::atomic<char*> base{nullptr};
std::mutex lock;
std::size_t capacity = 0;
std::size_t lent_bytes = 0;  // 0: not lent
// Deferred wipes (defer_argon2_memory_wipe): the bytes released but not yet wiped (0: none).
bool defer_wipe = false;
std::size_t unwiped_bytes = 0;
bool retired = false;
std::uint64_t lent_count = 0;
std::uint64_t grown_count = 0;

std::size_t round_up(std::size_t n, std::size_t to) {
    return (n + to - 1) / to * to;
}

// A region of at least bytes: 2 MiB-aligned (so the kernel can back it with huge pages), out of
// core dumps, every page faulted in now. Null when the kernel refuses any of it.
char* make_region(std::size_t bytes, std::size_t& made) {
    const std::size_t size = round_up(bytes, huge_page_bytes);
    void* raw = next_mmap(nullptr, size + huge_page_bytes, PROT_READ | PROT_WRITE,
                          MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (raw == MAP_FAILED) {
        return nullptr;
    }
    char* const start = static_cast<char*>(raw);
    char* const aligned =
        start + (round_up(reinterpret_cast<std::uintptr_t>(start), huge_page_bytes) -
                 reinterpret_cast<std::uintptr_t>(start));
    const std::size_t head = static_cast<std::size_t>(aligned - start);
    if (head > 0) {
        next_munmap(start, head);
    }
    if (huge_page_bytes - head > 0) {
        next_munmap(aligned + size, huge_page_bytes - head);
    }
    ::madvise(aligned, size, MADV_HUGEPAGE);  // where transparent huge pages are on at all
    if (::madvise(aligned, size, MADV_DONTDUMP) != 0) {
        next_munmap(aligned, size);
        return nullptr;
    }
#if defined(MADV_POPULATE_WRITE)
    const bool populated = ::madvise(aligned, size, MADV_POPULATE_WRITE) == 0;
#else
    const bool populated = false;
#endif
    if (!populated) {  // Linux before 5.14: one write per page
        volatile char* p = aligned;
        for (std::size_t i = 0; i < size; i += page_bytes) {
            p[i] = 0;
        }
    }
    made = size;
    return aligned;
}

// Wipes what a deferred release left; true when there was something to wipe.
bool wipe_released_locked() {
    char* const b = base.load(std::memory_order_relaxed);
    if (b == nullptr || unwiped_bytes == 0) {
        return false;
    }
    sodium_memzero(b, unwiped_bytes);
    unwiped_bytes = 0;
    return true;
}

void drop_region_locked() {
    wipe_released_locked();  // given back to the kernel wiped, as every release is
    char* const b = base.load(std::memory_order_relaxed);
    if (b != nullptr) {
        base.store(nullptr, std::memory_order_release);
        next_munmap(b, capacity);
    }
    capacity = 0;
    lent_bytes = 0;
}

bool ensure_region_locked(std::size_t bytes) {
    if (base.load(std::memory_order_relaxed) != nullptr && capacity >= bytes) {
        return true;
    }
    const bool had = base.load(std::memory_order_relaxed) != nullptr;
    drop_region_locked();
    std::size_t made = 0;
    char* const b = make_region(bytes, made);
    if (b == nullptr) {
        return false;
    }
    capacity = made;
    base.store(b, std::memory_order_release);
    grown_count += had ? 1 : 0;
    return true;
}

// The region for argon2's request of len bytes, or null (the kernel answers).
void* lend(std::size_t len) {
    if (len == 0 || len % page_bytes != 0 || len > authd::server::argon2_memory_max_kept_bytes) {
        return nullptr;
    }
    const std::lock_guard<std::mutex> guard(lock);
    if (!on.load(std::memory_order_relaxed) || lent_bytes != 0) {
        return nullptr;
    }
    wipe_released_locked();  // a deferred wipe not done yet: before anyone writes there again
    if (!ensure_region_locked(len)) {
        return nullptr;
    }
    lent_bytes = len;
    ++lent_count;
    return base.load(std::memory_order_relaxed);
}

// munmap(addr, len) over the region: true when it was the lent memory coming back (wiped, or with
// deferred wipes marked to be wiped, and kept).
// Anything else (a partial or repeated release: not libsodium 1.0.18's) retires the mechanism:
// the part of the region nobody holds is unmapped, what was lent stays the caller's, to unmap.
bool give_back(void* addr, std::size_t len) {
    const std::lock_guard<std::mutex> guard(lock);
    char* const b = base.load(std::memory_order_relaxed);
    if (b == nullptr) {
        return false;
    }
    const auto p = reinterpret_cast<std::uintptr_t>(addr);
    const auto region = reinterpret_cast<std::uintptr_t>(b);
    if (p >= region + capacity || p + len <= region) {
        return false;  // not the region after all
    }
    // Writable again first, in case the caller changed that: the wipe must not fault.
    if (lent_bytes != 0 && p == region && len == lent_bytes &&
        ::mprotect(b, len, PROT_READ | PROT_WRITE) == 0) {
        if (defer_wipe) {
            unwiped_bytes = len;
        } else {
            sodium_memzero(b, len);
        }
        lent_bytes = 0;
        return true;
    }
    wipe_released_locked();
    on.store(false, std::memory_order_relaxed);
    retired = true;
    base.store(nullptr, std::memory_order_release);
    if (capacity > lent_bytes) {
        next_munmap(b + lent_bytes, capacity - lent_bytes);
    }
    capacity = 0;
    lent_bytes = 0;
    return false;
}

}  // namespace

// The definitions the dynamic linker binds libsodium's (and every other library's) calls to.
extern "C" __attribute__((visibility("default"))) void* mmap(void* addr, std::size_t len, int prot,
                                                             int flags, int fd,
                                                             off_t offset) noexcept {
    if (on.load(std::memory_order_acquire) && addr == nullptr && prot == argon2_prot &&
        flags == argon2_flags && fd == -1 && offset == 0 &&
        from_sodium(__builtin_return_address(0))) {
        if (void* lent = lend(len)) {
            return lent;
        }
    }
    return next_mmap(addr, len, prot, flags, fd, offset);
}

extern "C" __attribute__((visibility("default"))) int munmap(void* addr, std::size_t len) noexcept {
    if (base.load(std::memory_order_acquire) != nullptr && give_back(addr, len)) {
        return 0;
    }
    return next_munmap(addr, len);
}

#endif  // AUTHD_ARGON2_MEMORY

namespace authd::server {

bool argon2_memory_built_in() noexcept {
    return AUTHD_ARGON2_MEMORY != 0;
}

#if AUTHD_ARGON2_MEMORY

bool enable_argon2_memory(std::size_t initial_bytes) noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    if (retired) {
        return false;
    }
    if (on.load(std::memory_order_relaxed)) {
        return true;
    }
    if (sodium_code_count == 0) {
        auto target = reinterpret_cast<std::uintptr_t>(&crypto_pwhash_argon2id);
        ::dl_iterate_phdr(&find_sodium_code, &target);
        if (sodium_code_count == 0) {
            return false;  // libsodium linked statically, say: nothing to tell its calls by
        }
    }
    if (!ensure_region_locked(initial_bytes > 0 ? initial_bytes : page_bytes)) {
        return false;
    }
    on.store(true, std::memory_order_release);
    return true;
}

void disable_argon2_memory() noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    on.store(false, std::memory_order_release);
    if (lent_bytes == 0) {
        drop_region_locked();
    }
}

void defer_argon2_memory_wipe(bool deferred) noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    defer_wipe = deferred;
    if (!deferred) {
        wipe_released_locked();
    }
}

bool argon2_memory_wipe() noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    return wipe_released_locked();
}

argon2_memory_stats argon2_memory_stats_now() noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    argon2_memory_stats s;
    s.active = on.load(std::memory_order_relaxed);
    s.retired = retired;
    s.lent = lent_count;
    s.grown = grown_count;
    s.region_bytes = base.load(std::memory_order_relaxed) != nullptr ? capacity : 0;
    return s;
}

std::size_t argon2_memory_nonzero_bytes() noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    const char* const b = base.load(std::memory_order_relaxed);
    std::size_t nonzero = 0;
    for (std::size_t i = 0; b != nullptr && i < capacity; ++i) {
        nonzero += b[i] != 0 ? 1 : 0;
    }
    return nonzero;
}

bool argon2_memory_owns(const void* p) noexcept {
    const std::lock_guard<std::mutex> guard(lock);
    const char* const b = base.load(std::memory_order_relaxed);
    const char* const q = static_cast<const char*>(p);
    return b != nullptr && q >= b && q < b + capacity;
}

void* argon2_memory_region() noexcept {
    return base.load(std::memory_order_acquire);
}

#else

bool enable_argon2_memory(std::size_t) noexcept {
    return false;
}
void disable_argon2_memory() noexcept {}
void defer_argon2_memory_wipe(bool) noexcept {}
bool argon2_memory_wipe() noexcept {
    return false;
}
argon2_memory_stats argon2_memory_stats_now() noexcept {
    return {};
}
std::size_t argon2_memory_nonzero_bytes() noexcept {
    return 0;
}
bool argon2_memory_owns(const void*) noexcept {
    return false;
}
void* argon2_memory_region() noexcept {
    return nullptr;
}

#endif

}  // namespace authd::server
