// Merge values: how the Mailchimp part checks, stores and shows the value of a merge field
// (docs/sandbox.md "Merge fields"), and how it shows a field's definition.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/account.h"

namespace concord::sandbox {

// Validates and normalises one merge value for a field. `v` is the JSON value given. On success
// stores the canonical text in *out and returns ""; else returns the API's message for the
// field ("Please enter a number", ...).
std::string encode_merge_value(const MergeField& f, const json& v, std::string* out);
// Writes a stored merge value as the API shows it (string, number, or address object).
void write_merge_value(JsonOut& out, const MergeField& f, std::string_view stored);
// A merge field's definition as the API and the state file show it (without list_id/_links).
ojson merge_field_definition(const MergeField& f);

}  // namespace concord::sandbox
