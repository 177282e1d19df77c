// libsodium's initialisation, once per process, before any of its calls (it picks its fastest
// implementations then). Thread-safe; throws std::runtime_error when libsodium cannot start.
#pragma once

namespace authd {

void init_sodium();

}  // namespace authd
