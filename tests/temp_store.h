// A fresh store with one pair ("newsletter") in a temporary directory, removed afterwards.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "concord/email.h"
#include "concord/record.h"
#include "concord/store.h"

namespace concord::testing {

struct TempStore {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  const PairHandle* pair = nullptr;

  // `faults`: a full disk can be made for this store (REQUIRES: outlives it).
  explicit TempStore(const std::string& tag = "test", DiskFaults* faults = nullptr) {
    static int n = 0;
    dir = std::filesystem::temp_directory_path() /
          ("concord-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir);
    StoreOptions o;
    o.faults = faults;
    store = std::move(Store::open(dir, o).value());
    pair = store->pair("newsletter").value();
  }
  ~TempStore() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  // Every entry of a family of the pair, key → value.
  std::map<std::string, std::string> entries(Family f) const {
    std::map<std::string, std::string> out;
    Cursor c = store->scan(*pair, f);
    for (c.seek_to_first(); c.valid(); c.next())
      out.emplace(std::string(c.key()), std::string(c.value()));
    return out;
  }
  // The Mailchimp snapshot's state of a member; nullopt when absent or not decodable.
  std::optional<MailchimpState> mailchimp_state(const std::string& email) const {
    Result<std::optional<std::string>> v =
        store->get(*pair, Family::kMailchimp, member_key(email).view());
    SnapshotHeader h;
    MailchimpState s;
    if (!v || !v->has_value() || !decode_snapshot_header(**v, &h) || !mailchimp_state_of(h, &s)) {
      return std::nullopt;
    }
    return s;
  }
  // Whether a family holds the member with this (normalised) address.
  bool has(Family f, const std::string& email) const {
    return store->get(*pair, f, member_key(email).view()).value().has_value();
  }
};

}  // namespace concord::testing
