// The CiviCRM part's row writes: what a create, update or delete does to the rows of each
// entity and to the site's indexes, with the rules CiviCRM's BAOs and MySQL's constraints apply
// (a contact's primary email, bulk mail, on-hold dates, unique groups and memberships, the
// subscription history a membership change writes, ON DELETE CASCADE, and what moves a contact's
// modified_date: docs/sandbox.md, "Writes").
//
// kEntities (entities.h) reaches these by entity. A write that MySQL or CiviCRM would refuse
// throws ApiError (api_error.h), with the rows written so far left as they are, as the live
// site leaves them.
//
// Thread-safety: a RowWriter writes its site; the caller holds the site alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "concord/time.h"
#include "sandbox/civicrm/site.h"
#include "sandbox/civicrm/values.h"

namespace concord::sandbox {

class RowWriter {
 public:
  // `now_local` (site-local) dates the rows written.
  RowWriter(CiviSite& site, Micros now_local) : site_(site), now_local_(now_local) {}

  // The method and tracking of the history rows that GroupContact writes add ("API", "").
  void set_history_source(std::string method, std::string tracking) {
    method_ = std::move(method);
    tracking_ = std::move(tracking);
  }

  // The writes of each entity, with the signatures of EntityDef's: a new row from `vals`
  // (returns its slot), a change of the row at `slot`, its deletion. `shown` gains the fields a
  // write set beyond those given.
  std::uint32_t insert_contact(const Values& vals, std::uint64_t* shown);
  // Moves modified_date when a value of the row changes (trash and restore: only if the site's
  // trash_bumps_modified_date says so), and whenever a custom value is written (its table's
  // triggers).
  void update_contact(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  // With `use_trash`, the contact goes to the trash (is_deleted) instead.
  void delete_contact(std::uint32_t slot, bool use_trash);

  // Each Email write moves the modified_date of the contacts it names (before and after).
  std::uint32_t insert_email(const Values& vals, std::uint64_t* shown);
  void update_email(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  void delete_email(std::uint32_t slot, bool use_trash);

  std::uint32_t insert_group(const Values& vals, std::uint64_t* shown);
  void update_group(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  void delete_group(std::uint32_t slot, bool use_trash);

  std::uint32_t insert_group_contact(const Values& vals, std::uint64_t* shown);
  void update_group_contact(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  void delete_group_contact(std::uint32_t slot, bool use_trash);

  std::uint32_t insert_history(const Values& vals, std::uint64_t* shown);
  void update_history(std::uint32_t slot, const Values& vals, std::uint64_t* shown);
  void delete_history(std::uint32_t slot, bool use_trash);

 private:
  // A string value of at most `max` bytes ("" for a non-string); longer fails as MySQL does.
  static std::string_view varchar(const XVal& v, std::size_t max);
  // Fails unless `id` is NULL or the id of a row of `e` (a foreign key).
  void need_row(Ent e, const XVal& id);
  // A history row, as the GroupContact post hook writes it. A row MySQL would refuse (a method
  // over 8 characters) is not written; CiviCRM only logs the failure.
  void add_history(std::int64_t contact, std::int64_t group, std::string_view status,
                   std::string_view method, std::string_view tracking);

  void set_contact(ContactRow& c, int f, const XVal& v);
  // A custom field's value, within its column's limits (varchar(255), int(11), decimal(20,2)).
  void set_custom(ContactRow& c, int f, const XVal& v);
  // The modified_date of a live contact becomes now, as civicrm_email's triggers set it
  // (nothing for NULL or a contact that does not exist).
  void touch_contact(std::int64_t contact);
  // Makes the lowest-id email of a contact primary when none is.
  void ensure_primary(std::int64_t contact);
  // Sets the fields of an email; the caller handles indexes and the primary/bulk rules.
  void set_email(EmailRow& e, int f, const XVal& v);
  // The rules of CRM_Core_BAO_Block::handlePrimary and of bulk mail after a write.
  void email_rules(std::uint32_t slot, const Values& vals, bool created, std::uint64_t* shown);
  void set_group(GroupRow& g, int f, const XVal& v);
  void check_group_unique(const GroupRow& g, std::int64_t self);
  std::uint32_t find_membership(std::int64_t contact, std::int64_t group) const;
  void set_group_contact(GroupContactRow& r, int f, const XVal& v);
  void set_history(HistoryRow& h, int f, const XVal& v);

  CiviSite& site_;
  Micros now_local_;
  std::string method_ = "API";
  std::string tracking_;
};

}  // namespace concord::sandbox
