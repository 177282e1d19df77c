// The one way every store database is brought to its current schema (SQLite's users file and its
// counters file, PostgreSQL's database), private to core/: a list of steps, where step i takes
// version i to i + 1, run in the caller's one transaction (and, for PostgreSQL, under its advisory
// lock), each followed by the new version. Lists are append only: never edit a released step,
// databases out there have run it already.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace authd::detail {

// What migrate_schema() asks of a database.
class schema_database {
  public:
    virtual ~schema_database() = default;

    // The version the database holds: 0 when it is empty. Throws store_error naming the database
    // when it holds something else than a store of this kind, or a corrupt version.
    virtual std::int64_t schema_version() = 0;
    // Runs one step's SQL (several statements allowed); what names it for a message.
    virtual void run_step(std::string_view sql, const std::string& what) = 0;
    virtual void set_schema_version(std::int64_t version) = 0;
    // Throws store_error naming the database: "NAME: why".
    [[noreturn]] virtual void refuse(const std::string& why) = 0;
};

// Brings db to version steps.size(). Refuses a version newer than it knows ("<kind> version N is
// newer than this authd knows (M); use a newer authd") or a negative one. kind: "schema", or
// "counters' schema".
void migrate_schema(schema_database& db, std::span<const std::string_view> steps,
                    std::string_view kind = "schema");

}  // namespace authd::detail
