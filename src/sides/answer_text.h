// Small pieces every side's client needs when it reads an answer or words an error: a key looked
// up without throwing, secrets taken out of a text, and the one thing a config names (a cohort,
// an audience) chosen by id or name among what the service lists.
//
// Thread-safety: pure functions.
#pragma once

#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "concord/status.h"

namespace concord::sides {

// The value under `key`, or null when `obj` is not an object or has no such key.
inline const nlohmann::json* find(const nlohmann::json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

// `text` with every occurrence of each secret replaced by "[redacted]", for a text about to leave
// a client (a server could echo a credential). Secrets shorter than `min_size` are not looked
// for: they would cut ordinary words.
inline std::string redact(std::string text, std::initializer_list<const std::string*> secrets,
                          std::size_t min_size = 4) {
  for (const std::string* secret : secrets) {
    if (secret->size() < min_size) continue;
    for (std::size_t at; (at = text.find(*secret)) != std::string::npos;) {
      text.replace(at, secret->size(), "[redacted]");
    }
  }
  return text;
}

// One thing a service lists, as a config may name it.
struct Named {
  std::string id;
  std::string name;
};

// Which of `listed` the config's `wanted` means: the one whose id is `wanted`, else the only one
// whose name is. Errors say what was looked for: `kind` names one ("Mixpanel cohort of project
// 7"), `kinds` several ("Mixpanel cohorts"). Not found lists the first 20 of what there is, so
// that a typo shows beside the right name.
inline Result<std::size_t> choose_by_id_or_name(const std::vector<Named>& listed,
                                                std::string_view wanted, std::string_view kind,
                                                std::string_view kinds) {
  constexpr std::size_t kListed = 20;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (listed[i].id == wanted) return i;
  }
  std::vector<std::size_t> named;
  for (std::size_t i = 0; i < listed.size(); ++i) {
    if (listed[i].name == wanted) named.push_back(i);
  }
  if (named.size() == 1) return named[0];
  const std::string quoted = "\"" + std::string(wanted) + "\"";
  if (named.size() > 1) {
    std::string ids;
    for (std::size_t i : named)
      ids += (ids.empty() ? "" : ", ") + listed[i].id;
    return Status::invalid("several " + std::string(kinds) + " are named " + quoted + " (ids " +
                           ids + "); give the id instead");
  }
  std::string known;
  for (std::size_t i = 0; i < listed.size() && i < kListed; ++i) {
    known += (i == 0 ? "" : ", ") + listed[i].id + " \"" + listed[i].name + "\"";
  }
  if (listed.size() > kListed) {
    known += ", and " + std::to_string(listed.size() - kListed) + " more";
  }
  return Status::not_found("no " + std::string(kind) + " has the id or name " + quoted + " (" +
                           std::string(kinds) + ": " + (known.empty() ? "none" : known) + ")");
}

}  // namespace concord::sides
