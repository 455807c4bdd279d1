// How the Mailchimp part shows members: the member resource of the API, with `fields` and
// `exclude_fields` decided once for a whole page, and the smaller shapes of batch answers and
// segment members.
//
// Thread-safety: a MemberWriter reads the account and list it was made with; the caller holds the
// account's lock while it is used.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "sandbox/json_writer.h"
#include "sandbox/mailchimp/account.h"
#include "sandbox/mailchimp/fields.h"
#include "sandbox/mailchimp/replies.h"

namespace concord::sandbox {

// The fields of a member, in the order the API writes them.
enum MemberField : int {
  kFId,
  kFEmail,
  kFUniqueEmailId,
  kFContactId,
  kFFullName,
  kFWebId,
  kFEmailType,
  kFStatus,
  kFUnsubscribeReason,
  kFConsents,
  kFMergeFields,
  kFInterests,
  kFStats,
  kFIpSignup,
  kFTimestampSignup,
  kFIpOpt,
  kFTimestampOpt,
  kFMemberRating,
  kFLastChanged,
  kFLanguage,
  kFVip,
  kFEmailClient,
  kFLocation,
  kFSource,
  kFTagsCount,
  kFTags,
  kFListId,
  kFLinks,
  kFCount,
};

// Which member schema of the spec an answer uses.
enum class MemberShape {
  kFull,     // List Members: GET/POST/PUT/PATCH member, POST segment member
  kBatch,    // List Members_5: batch subscribe, members_added/members_removed of a segment batch
  kSegment,  // List Members_3: GET segment members (also without tags and tags_count)
};

// Writes members as the API shows them.
class MemberWriter {
 public:
  // `sel` applies to each member; `shape` leaves out the fields its schema does not have. The
  // account and the list must outlive the writer.
  MemberWriter(const Account& a, const List& l, const Ctx& c, const Sel& sel, MemberShape shape);

  void write(JsonOut& o, const Member& m) const;
  // FNAME and LNAME, as the API's full_name joins them.
  std::string full_name(const Member& m) const;

 private:
  void write_merges(JsonOut& o, const Member& m, const Sel& s) const;
  void write_tags(JsonOut& o, const Member& m, const Sel& s) const;
  void write_interests(JsonOut& o, const Member& m, const Sel& s) const;

  const Account& account_;
  const List& list_;
  std::string base_, schema_;
  std::array<bool, kFCount> on_{};
  std::array<Sel, kFCount> sub_{};
  std::vector<std::string> links_parts_;  // the _links text, split where the hash goes
  int fname_ = -1, lname_ = -1;
};

}  // namespace concord::sandbox
