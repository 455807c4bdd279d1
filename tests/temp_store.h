// A fresh store with one pair ("newsletter") in a temporary directory, removed afterwards.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "concord/store.h"

namespace concord::testing {

struct TempStore {
  std::filesystem::path dir;
  std::unique_ptr<Store> store;
  const PairHandle* pair = nullptr;

  explicit TempStore(const std::string& tag = "test") {
    static int n = 0;
    dir = std::filesystem::temp_directory_path() /
          ("concord-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(dir);
    store = std::move(Store::open(dir).value());
    pair = store->pair("newsletter").value();
  }
  ~TempStore() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

}  // namespace concord::testing
