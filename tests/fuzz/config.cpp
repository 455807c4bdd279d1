// The configuration file (TOML): any text is a configuration or an error naming the line and key.
// What parses gives each pair a schedule.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "concord/config.h"
#include "config/schedule.h"

using namespace concord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  Result<Config> c = parse_config(in, "/etc/concord/concord.toml");
  if (!c) return 0;
  for (const SyncConfig& sync : c->syncs) {
    (void)schedule_of(*c, sync);
  }
  (void)c->sync("");
  return 0;
}
