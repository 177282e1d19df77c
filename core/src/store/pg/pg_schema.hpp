// The PostgreSQL store's schema, private to core/ (pg_schema.cpp).
#pragma once

#include <cstdint>
#include <libpq-fe.h>
#include <string_view>

#include "pg_connection.hpp"

namespace authd::detail {

// Brings the database to the current schema, in one transaction, under an advisory lock (nodes
// starting together migrate once). A current schema is only read, so a runtime role that may not
// create tables opens it fine. Throws store_error (store_unavailable) naming the server.
void migrate_pg_schema(const pg_target& target, PGconn* conn);

// An integer column's text; store_error when it is none.
std::int64_t pg_integer(const pg_target& target, std::string_view text);

}  // namespace authd::detail
