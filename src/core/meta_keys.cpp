#include "concord/meta_keys.h"

namespace concord {
namespace meta {

std::string mailchimp_watermark(std::string_view list_id) {
  return std::string(kMailchimpWatermarkPrefix) + std::string(list_id);
}

std::string civicrm_watermark(std::int64_t group_id) {
  return std::string(kCivicrmWatermarkPrefix) + std::to_string(group_id);
}

std::string source_watermark(std::string_view kind, std::string_view set) {
  std::string k(kSourceWatermarkPrefix);
  k.append(kind).append("/").append(set);
  return k;
}

std::string refusal_key(const MemberKey& key) {
  return std::string(kRefusalPrefix) + subscriber_hash(key);
}

bool member_of_refusal_key(std::string_view key, MemberKey* out) {
  if (!key.starts_with(kRefusalPrefix)) return false;
  const std::string_view hex = key.substr(kRefusalPrefix.size());
  if (hex.size() != 2 * out->bytes.size()) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < out->bytes.size(); ++i) {
    const int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

}  // namespace meta

}  // namespace concord
