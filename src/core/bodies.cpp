// The snapshot bodies' codecs (record.h): decoded with simdjson, the CRM's written as JSON text.
// The diff decodes the bodies of every member it compares fields of, and a backup those of every
// member: nlohmann::json's tree of each cost more than the decision itself.
#include <simdjson.h>

#include "concord/json_text.h"
#include "concord/parse.h"
#include "concord/record.h"

namespace concord {
namespace {

namespace dom = simdjson::dom;

// The body's top-level object; false when it is not JSON or not an object. The views it yields
// live until the next body is parsed on this thread.
bool parse_object(std::string_view body, dom::object* out) {
  thread_local dom::parser parser;
  return parser.parse(body.data(), body.size()).get_object().get(*out) == simdjson::SUCCESS;
}

std::string text_of(dom::element v) {
  std::string_view s;
  return v.get_string().get(s) == simdjson::SUCCESS ? std::string(s) : std::string();
}

// The same, into a string that keeps its room (a body decoded into a reused MailchimpBody).
void assign_text(dom::element v, std::string* out) {
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    out->assign(s);
  } else {
    out->clear();
  }
}

bool flag_of(dom::element v) {
  bool b = false;
  return v.get_bool().get(b) == simdjson::SUCCESS && b;
}

// An integer member; `fallback` when it is not one.
std::int64_t int_of(dom::element v, std::int64_t fallback) {
  std::int64_t n = 0;
  return v.get_int64().get(n) == simdjson::SUCCESS ? n : fallback;
}

// A contact id as CiviCRM may send it: a number, or a decimal string. 0 when neither.
std::int64_t id_of(dom::element v) {
  std::int64_t n = 0;
  if (v.get_int64().get(n) == simdjson::SUCCESS) return n;
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    if (Result<std::int64_t> id = parse_int64(s)) return *id;
  }
  return 0;
}

}  // namespace

Status decode_mailchimp_body(std::string_view body, MailchimpBody* out, MergeFields merge) {
  dom::object j;
  if (!parse_object(body, &j)) {
    return Status::corruption("a stored Mailchimp body is not a JSON object");
  }
  // Cleared member by member, not assigned anew: a caller decoding body after body into one
  // MailchimpBody keeps its strings' room.
  out->merge_fields.clear();
  out->merge_values.clear();
  out->merge_fields_json.clear();
  out->last_changed.clear();
  out->timestamp_opt.clear();
  out->unsubscribe_reason.clear();
  out->contact_id.clear();
  for (dom::key_value_pair member : j) {
    const std::string_view key = member.key;
    if (key == "merge_fields") {
      dom::object fields;
      if (member.value.get_object().get(fields) != simdjson::SUCCESS) continue;
      out->merge_fields_json = simdjson::minify(fields);
      if (merge == MergeFields::kTextOnly) continue;
      for (dom::key_value_pair f : fields) {
        std::string_view text;
        std::string value;
        if (f.value.get_string().get(text) == simdjson::SUCCESS) {
          out->merge_fields.emplace_back(f.key, text);
          append_json_string(&value, text);
        } else {
          value = simdjson::minify(f.value);
        }
        out->merge_values.emplace_back(f.key, std::move(value));
      }
    } else if (key == "last_changed") {
      assign_text(member.value, &out->last_changed);
    } else if (key == "timestamp_opt") {
      assign_text(member.value, &out->timestamp_opt);
    } else if (key == "unsubscribe_reason") {
      assign_text(member.value, &out->unsubscribe_reason);
    } else if (key == "contact_id") {
      assign_text(member.value, &out->contact_id);
    }
  }
  return Status::ok();
}

std::string encode_crm_body(const CrmBody& b) {
  JsonText j;
  j.begin_object()
      .key("contact_id")
      .number(b.contact_id)
      .key("first_name")
      .string(b.first_name)
      .key("last_name")
      .string(b.last_name);
  if (!b.duplicates.empty()) {
    j.key("duplicates").begin_array();
    for (std::int64_t id : b.duplicates)
      j.number(id);
    j.end_array();
  }
  if (!b.addresses.empty()) {
    j.key("addresses").begin_array();
    for (const CrmBodyAddress& a : b.addresses) {
      j.begin_object()
          .key("email")
          .string(a.email)
          .key("is_primary")
          .boolean(a.is_primary)
          .key("is_bulkmail")
          .boolean(a.is_bulkmail)
          .key("on_hold")
          .number(std::int64_t{a.on_hold})
          .end_object();
    }
    j.end_array();
  }
  if (b.consent_changed_at != kNoTime) j.key("consent_changed_at").number(b.consent_changed_at);
  if (!b.fields.empty()) {
    j.key("fields").begin_object();
    for (const auto& [name, value] : b.fields)
      j.key(name).string(value);
    j.end_object();
  }
  // The fields' change time; without mapped fields nothing needs it.
  if (b.modified_at != kNoTime && !b.fields.empty()) j.key("modified_at").number(b.modified_at);
  if (!b.source_id.empty()) j.key("source_id").string(b.source_id);
  j.end_object();
  return j.take();
}

Status decode_crm_body(std::string_view body, CrmBody* out) {
  dom::object j;
  if (!parse_object(body, &j)) return Status::corruption("a stored CRM body is not a JSON object");
  *out = CrmBody{};
  for (dom::key_value_pair member : j) {
    const std::string_view key = member.key;
    const dom::element v = member.value;
    if (key == "contact_id") {
      out->contact_id = id_of(v);
    } else if (key == "first_name") {
      out->first_name = text_of(v);
    } else if (key == "last_name") {
      out->last_name = text_of(v);
    } else if (key == "duplicates") {
      dom::array ids;
      if (v.get_array().get(ids) != simdjson::SUCCESS) continue;
      for (dom::element id : ids)
        out->duplicates.push_back(id_of(id));
    } else if (key == "addresses") {
      dom::array list;
      if (v.get_array().get(list) != simdjson::SUCCESS) continue;
      for (dom::element e : list) {
        dom::object a;
        if (e.get_object().get(a) != simdjson::SUCCESS) continue;
        CrmBodyAddress address;
        for (dom::key_value_pair field : a) {
          if (field.key == "email") {
            address.email = text_of(field.value);
          } else if (field.key == "is_primary") {
            address.is_primary = flag_of(field.value);
          } else if (field.key == "is_bulkmail") {
            address.is_bulkmail = flag_of(field.value);
          } else if (field.key == "on_hold") {
            address.on_hold = static_cast<int>(int_of(field.value, 0));
          }
        }
        out->addresses.push_back(std::move(address));
      }
    } else if (key == "consent_changed_at") {
      out->consent_changed_at = int_of(v, kNoTime);
    } else if (key == "fields") {
      dom::object fields;
      if (v.get_object().get(fields) != simdjson::SUCCESS) continue;
      for (dom::key_value_pair f : fields) {
        std::string_view text;
        if (f.value.get_string().get(text) == simdjson::SUCCESS) {
          out->fields.emplace_back(f.key, text);
        }
      }
    } else if (key == "modified_at") {
      out->modified_at = int_of(v, kNoTime);
    } else if (key == "source_id") {
      out->source_id = text_of(v);
    }
  }
  return Status::ok();
}

}  // namespace concord
