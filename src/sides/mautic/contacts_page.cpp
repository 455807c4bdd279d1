#include "sides/mautic/contacts_page.h"

#include <algorithm>

#include "concord/parse.h"
#include "concord/time.h"
#include "sides/answer_text.h"
#include "sides/mautic/numbers.h"

namespace concord::mautic {
namespace {

using json = nlohmann::json;
using sides::find;

// A contact id, or 0.
std::int64_t id_of(const json& v) {
  const std::optional<std::int64_t> n = integer_of(&v);
  return n && *n > 0 ? *n : 0;
}

PageContact entry(const json& contact, std::string label, const std::string* key) {
  PageContact e;
  e.contact = &contact;
  e.label = std::move(label);
  const std::int64_t from_key = key == nullptr ? 0 : id_of(json(*key));
  if (!contact.is_object()) {
    e.id = from_key;  // known, so the key set still moves past it
    e.problem = "the contact is not an object but " + std::string(contact.type_name());
    return e;
  }
  const json* id = find(contact, "id");
  const std::int64_t own = id == nullptr ? 0 : id_of(*id);
  if (own > 0 && from_key > 0 && own != from_key) {
    e.problem = "the contact's id " + std::to_string(own) + " is not its key";
  } else if (own == 0 && from_key == 0) {
    e.problem =
        id == nullptr ? "the contact has no id" : "the contact's id is not a positive integer";
  } else {
    e.id = own > 0 ? own : from_key;
  }
  return e;
}

// A field's value as SourcePerson::fields holds it: strings unquoted, null or absent "", anything
// else as JSON writes it.
std::string text_of(const json* v) {
  if (v == nullptr || v->is_null()) return {};
  if (v->is_string()) return v->get<std::string>();
  return v->dump(-1, ' ', false, json::error_handler_t::replace);
}

// A PHP array that may be written as a list or (keys not 0..n-1, or empty) an object: its values.
std::vector<const json*> values_of(const json& v) {
  std::vector<const json*> out;
  for (const json& item : v)
    out.push_back(&item);
  return out;
}

}  // namespace

Result<ContactsPage> parse_contacts_page(const json& body, std::string_view what) {
  const std::string at(what);
  if (!body.is_object()) {
    return Status::unavailable(at + ": the answer is not an object but " +
                               std::string(body.type_name()));
  }
  ContactsPage page;
  if (const json* total = find(body, "total"); total != nullptr && !total->is_null()) {
    const std::optional<std::int64_t> n = integer_of(total);
    if (!n || *n < 0) {
      return Status::unavailable(
          at + ": the answer's total " +
          total->dump(-1, ' ', false, json::error_handler_t::replace).substr(0, 40) +
          " is not a count");
    }
    page.total = static_cast<std::uint64_t>(*n);
  }
  const json* contacts = find(body, "contacts");
  if (contacts == nullptr) return Status::unavailable(at + ": the answer has no contacts");
  if (contacts->is_object()) {
    for (auto it = contacts->begin(); it != contacts->end(); ++it) {
      page.contacts.push_back(entry(it.value(), "contact " + it.key().substr(0, 40), &it.key()));
    }
  } else if (contacts->is_array()) {
    for (std::size_t i = 0; i < contacts->size(); ++i) {
      page.contacts.push_back(
          entry((*contacts)[i], "contact [" + std::to_string(i) + "]", nullptr));
    }
  } else {
    return Status::unavailable(at + ": the answer's contacts are not an object but " +
                               std::string(contacts->type_name()));
  }
  // An object's keys come sorted as text ("10" before "9"): the key set needs id order.
  std::stable_sort(page.contacts.begin(), page.contacts.end(),
                   [](const PageContact& a, const PageContact& b) { return a.id < b.id; });
  return page;
}

std::variant<SourcePerson, RejectedRow> read_contact(const PageContact& entry,
                                                     const std::vector<std::string>& fields) {
  const json& c = *entry.contact;
  SourcePerson p;
  p.id = std::to_string(entry.id);
  auto reject = [&](std::string field, std::string why) {
    return RejectedRow{p.id, p.email, std::move(field), "contact " + p.id + ": " + std::move(why)};
  };
  const json* all = nullptr;
  if (const json* f = find(c, "fields"); f != nullptr) all = find(*f, "all");
  // An empty map is written [] by PHP.
  if (all == nullptr || !(all->is_object() || (all->is_array() && all->empty()))) {
    return reject("fields.all",
                  all == nullptr ? "the contact has no fields.all" : "fields.all is not an object");
  }
  if (const json* e = find(*all, "email"); e != nullptr && !e->is_null()) {
    if (!e->is_string()) return reject("fields.all.email", "the email is not a string");
    p.email = e->get<std::string>();
  }
  if (const json* m = find(c, "dateModified"); m != nullptr && !m->is_null()) {
    Result<Micros> t =
        m->is_string() ? parse_iso8601(m->get<std::string>()) : Result<Micros>(Status::invalid(""));
    if (!t || *t == kNoTime) {
      return reject("dateModified", "dateModified " + text_of(m).substr(0, 40) + " is not a time");
    }
    p.updated_at = *t;
  }
  // Consent: without the list (a `minimal` answer, another serializer) it is unknown, and a person
  // who asked not to be emailed must never be subscribed for want of it.
  const json* dnc = find(c, "doNotContact");
  if (dnc == nullptr || !(dnc->is_array() || dnc->is_object())) {
    return reject("doNotContact", dnc == nullptr ? "the contact has no doNotContact list"
                                                 : "doNotContact is not a list");
  }
  const std::vector<const json*> entries = values_of(*dnc);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const json& d = *entries[i];
    const std::string field = "doNotContact[" + std::to_string(i) + "]";
    if (!d.is_object()) return reject(field, "a Do-Not-Contact entry is not an object");
    const json* channel = find(d, "channel");
    if (channel == nullptr || !channel->is_string()) {
      return reject(field + ".channel", "a Do-Not-Contact entry's channel is not a string");
    }
    if (channel->get<std::string>() != "email") continue;
    // reason 0 is "contactable"; 1 unsubscribed, 2 bounced, 3 manual. An entry without a reason
    // still says "do not contact".
    const json* reason = find(d, "reason");
    if (reason == nullptr || reason->is_null()) {
      p.do_not_contact = true;
      continue;
    }
    const std::optional<std::int64_t> r = integer_of(reason);
    if (!r) return reject(field + ".reason", "a Do-Not-Contact reason is not an integer");
    if (*r != 0) p.do_not_contact = true;
  }
  p.fields.reserve(fields.size());
  for (const std::string& f : fields)
    p.fields.emplace_back(f, text_of(find(*all, f.c_str())));
  return p;
}

}  // namespace concord::mautic
