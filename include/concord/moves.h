// Address changes: a person whose address changed on one side, recognised by the identity that
// survives the change (Mailchimp's contact_id, the CRM's contact id), is one member moving from
// the old address to the new, never an unsubscribe of the old plus a subscribe of the new
// (docs/decision-rules.md, "Address changes").
//
// The snapshot stage finds moves as it reads (src/snapshot/move_finder.h) and keeps each in the
// pair's meta family until the other side follows (the engine changes the address there) or a
// person settles it; the diff plans from them.
//
// Thread-safety: plain values, and functions over a thread-safe Store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "concord/email.h"
#include "concord/member.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

struct AddressMove {
  Side side = Side::kCrm;  // where the address changed
  std::string from_email;  // normalised
  std::string to_email;    // normalised
  std::string identity;    // Mailchimp's contact_id, or the CRM contact id in decimal
  // The other side refused to follow, for good (its words): the move is reported, not re-sent.
  std::string refused;
  // The new address already had another member or contact on the side where it changed: nothing
  // is merged; the move is reported until a person settles it.
  bool occupied = false;

  MemberKey from() const { return member_key(from_email); }
  MemberKey to() const { return member_key(to_email); }
  bool operator==(const AddressMove&) const = default;
};

// Meta keys: "move/<side>/<subscriber hash of the new address>" → the move (JSON), and
// "identity/<side>/<identity>" → the member key (16 bytes) the identity was last written under.
std::string move_key(Side side, const MemberKey& to);
std::string identity_key(Side side, std::string_view identity);
std::string encode_move(const AddressMove& m);
// kCorruption when the value is not a move.
Result<AddressMove> decode_move(std::string_view value);

// Every pending move of the pair.
Result<std::vector<AddressMove>> load_moves(Store& store, const PairHandle& pair);

}  // namespace concord
