// Work a request needs done off the I/O thread, because it blocks (the store) or computes for
// milliseconds (a password hash): made by the request handler on the I/O thread, run by a worker
// (server/workers' pool, which knows nothing else of it), and answered on the I/O thread again.
// This is the only way work leaves the I/O thread: the connection hands the job to the pool and
// takes it back. (Core also calls the server through the interfaces it declares and the server
// implements: the job's hash_runner, the thread's handler_host; docs/architecture.md.)
#pragma once

#include "authd/crypto/password_hasher.hpp"
#include "authd/http/http_response.hpp"

namespace authd {

class blocking_job {
  public:
    virtual ~blocking_job() = default;

    // On a worker: the work itself, hashing through runner (the worker's helper process). Never
    // throws: a failure becomes the job's answer.
    virtual void run(hash_runner& runner) noexcept = 0;

    // On the I/O thread again: the response, once run; or, when ran is false, the job never ran
    // (the queue was full, it waited past its deadline, authd is stopping): 503. The response's
    // body lives in the job.
    virtual response answer(bool ran) = 0;
};

}  // namespace authd
