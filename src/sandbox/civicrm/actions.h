// The CiviCRM part's engine: one APIv4 call (Entity.action with its params) against the site,
// as CiviCRM's action classes run it: the params checked as their setters and
// ValidateFieldsSubscriber check them, then get (where.h, query.h, select.h), getFields
// (entities.h field_specs, filtered as BasicGetAction filters arrays), create, update, save or
// delete (writes.h through kEntities), then chains and the `index` of the answer.
//
// Thread-safety: an Engine is used for one call by one thread; the caller holds the site's lock
// (alone when writes() says the call may write).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/time.h"
#include "sandbox/civicrm/entities.h"
#include "sandbox/civicrm/query.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/values.h"
#include "sandbox/civicrm/where.h"
#include "sandbox/civicrm/writes.h"

namespace concord::sandbox {

// What a call answers: its rows (each a JSON object) and counts.
struct CallOutput {
  Ent ent = kContact;
  std::string action;
  std::vector<std::string> rows;  // each a JSON object
  std::int64_t count = 0;
  std::int64_t fetched = 0;
  std::optional<std::int64_t> matched;
  bool debug = false;
};

// The PHP class of an action, as the debug output and the errors name it.
std::string action_class(Ent e, const std::string& action);

// Whether a call may write (so needs the site alone): any action but get*, here or in a chain.
bool writes(const std::string& action, const pjson& params);

// Output of a write: which fields of a row to show.
struct OutRow {
  Ent ent;
  std::uint32_t slot = kNoSlot;
  std::uint64_t fields = 0;  // bit per core field
  std::vector<int> custom;   // the custom fields written (site.h), shown after the core ones
  bool all = false;
  std::int64_t deleted_id = 0;  // a deleted row shows {"id": …}
  // A contact written with `email_primary.*` values: the primary email saved with it, and the
  // Email fields named in those values (each shown as "email_primary.<field>").
  std::uint32_t email_slot = kNoSlot;
  std::uint32_t email_fields = 0;  // bit per Email field
};

class Engine {
 public:
  // `now_utc` is the time of the call; `cache` and `version` are the site's query cache and data
  // version (a write moves the version). All must outlive the engine.
  Engine(CiviSite& site, Micros now_utc, QueryCache* cache, std::atomic<std::uint64_t>* version);

  // Whether the call changed the site (also when it failed part way).
  bool changed() const { return changed_; }

  // Runs Entity.action(params), then its chains, then applies `index`.
  CallOutput call(const std::string& entity, const std::string& action, const pjson& params,
                  const pjson& index);

  // The values of a call as JSON, with an integer index applied (itemAt).
  static std::string values_json(const CallOutput& out, const pjson& index,
                                 const std::string* keyed);
  // Rows keyed by a field, when a string index was given (set by call()).
  std::optional<std::string> keyed_values;

 private:
  // ---- parameters

  static bool has_param(Ent e, const std::string& act, const std::string& name);

  // Request::create() sets each param through its setter: an unknown one is an unknown method.
  void check_params(Ent e, const std::string& act, const pjson& p);

  bool denied(const std::string& entity, const std::string& act) const;

  // ValidateFieldsSubscriber: required params and types.
  static void validate_params(const std::string& act, const pjson& p);

  // A boolean param (validated as one when given).
  static bool flag(const pjson& p, const char* name);

  static std::int64_t int_param(const pjson& p, const char* name);

  // ---- get

  void not_emulated_params(const pjson& p);

  Query build_query(Ent ent, const pjson& p);

  void do_get(Ent ent, const pjson& p, CallOutput* out);

  // getFields: field_specs() filtered, sorted, paged and trimmed as ArrayQueryActionTrait does
  // (where.h array_matches), with the count of all matches.
  void do_get_fields(Ent ent, const pjson& p, CallOutput* out);

  // The slots a batch action (update, delete) works on: a get with the same where, orderBy,
  // limit and offset.
  std::vector<std::uint32_t> batch_slots(Ent ent, const pjson& p);

  // ---- writing

  void bump();

  XVal to_xval(const FieldDef& d, const pjson& v, const std::string& key);

  // Reads the values of one record; unknown fields are ignored as CiviCRM's copyValues does.
  // Custom fields are read like core ones ("Group.field"); other dotted keys are skipped.
  Values parse_values(Ent ent, const pjson& obj, std::int64_t* id);

  // The core fields of a record's values, a bit each, and its custom fields.
  static std::uint64_t mask_of(Ent ent, const Values& vals);
  static std::vector<int> custom_of(Ent ent, const Values& vals);

  // Mandatory fields of a new record (AbstractAction::checkRequiredFields), after defaults.
  static void check_required(Ent ent, const std::string& act, const std::vector<Values>& records);

  // Defaults the API fills for new records (fillDefaults and the spec providers).
  static void fill_defaults(Ent ent, Values* vals);

  // ---- dispatch to the entity's writes

  std::uint32_t insert(Ent ent, const Values& vals, std::uint64_t* shown);

  void update(Ent ent, std::uint32_t slot, const Values& vals, std::uint64_t* shown);

  void remove(Ent ent, std::uint32_t slot, bool use_trash);

  // GroupContact's method and tracking params: the history rows its writes add.
  void read_method_params(Ent ent, const pjson& p);

  // ---- a contact's primary email in its writes (ContactSaveTrait)

  // The `email_primary.*` values of a contact's record, without the prefix, as
  // CRM_Utils_Array::filterByPrefix gives them. Empty for other entities.
  static pjson primary_email_item(Ent ent, const pjson& rec);

  // ContactSaveTrait::saveLocations for the primary email, after the contact row `out` is
  // written: an internal Email.save (permissions unchecked) of the given values with contact_id
  // and is_primary set, matched on (contact_id, is_primary): the contact's one primary email is
  // updated, else an email is created. A NULL `email` deletes the primary email instead. `id`,
  // `is_primary` and `is_billing` may not be set this way; when nothing else is given, nothing
  // is written.
  void save_primary_email(const pjson& given, OutRow* out);

  void do_create(Ent ent, const pjson& p, std::vector<OutRow>* rows);

  void do_update(Ent ent, const pjson& p, std::vector<OutRow>* rows);

  void do_save(Ent ent, const pjson& p, std::vector<OutRow>* rows,
               std::optional<std::int64_t>* matched);

  void do_delete(Ent ent, const pjson& p, std::vector<OutRow>* rows);

  std::string render_out(const OutRow& r);

  // ---- chains and index

  // ChainSubscriber::resolveChainLinks: "$field" (or "$a.b") becomes the row's value.
  static void resolve_links(pjson* v, const pjson& row);

  void run_chains(const pjson& chain, CallOutput* out);

  // civicrm_api4()'s string $index: the rows keyed by a field's value.
  void index_by(const std::string& field, bool remove_field, CallOutput* out);
  CiviSite& site_;
  Env env_;
  QueryCache* cache_;
  std::atomic<std::uint64_t>* version_;
  Micros now_local_;
  RowWriter writer_;
  bool changed_ = false;
};

}  // namespace concord::sandbox
