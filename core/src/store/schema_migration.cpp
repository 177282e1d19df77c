#include "schema_migration.hpp"

namespace authd::detail {

void migrate_schema(schema_database& db, std::span<const std::string_view> steps,
                    std::string_view kind) {
    const auto current = static_cast<std::int64_t>(steps.size());
    const std::int64_t version = db.schema_version();
    if (version > current) {
        db.refuse(std::string(kind) + " version " + std::to_string(version) +
                  " is newer than this authd knows (" + std::to_string(current) +
                  "); use a newer authd");
    }
    if (version < 0) {
        db.refuse("corrupt " + std::string(kind) + " version (negative)");
    }
    for (auto v = version; v < current; ++v) {
        db.run_step(steps[static_cast<std::size_t>(v)], "cannot migrate the " + std::string(kind) +
                                                            " to version " + std::to_string(v + 1));
        db.set_schema_version(v + 1);
    }
}

}  // namespace authd::detail
