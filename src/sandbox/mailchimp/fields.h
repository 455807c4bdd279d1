// The `fields` and `exclude_fields` query parameters of the Mailchimp API: which parts of an
// answer to write. Both are comma-separated dotted paths ("members.email_address,total_items").
//
// Thread-safety: plain data and pure functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sandbox/json_writer.h"

namespace concord::sandbox {

// The paths of one parameter as a tree: a terminal node selects everything below it.
struct FieldTree {
  bool terminal = false;
  std::vector<std::pair<std::string, std::unique_ptr<FieldTree>>> kids;

  const FieldTree* child(std::string_view k) const;
  FieldTree* add(std::string_view k);
};

// Adds the paths of `csv` to the tree. Returns false when no path was named.
bool parse_fields(std::string_view csv, FieldTree* root);

// Which part of a JSON value to write: the `fields` tree (unless everything below is wanted) and
// the `exclude_fields` tree. Arrays pass their selection to their elements. The trees must
// outlive the selection.
struct Sel {
  const FieldTree* inc = nullptr;
  bool all = true;
  const FieldTree* exc = nullptr;

  bool passthrough() const { return all && exc == nullptr; }
  // The selection below `key`; false when the key is not written.
  bool child(std::string_view key, Sel* out) const;
};

// Removes from `v` what the selection leaves out.
void apply_sel(ojson& v, const Sel& s);

}  // namespace concord::sandbox
