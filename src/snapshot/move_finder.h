// Finding address moves as a side is read (include/concord/moves.h): each member written under an
// address new to the snapshot is looked up by its identity; when the identity was last written
// under another address that the stored member there still has, and that address is no longer the
// person's, the person moved. The old address leaves the snapshot and the move is kept for the
// diff. Every member written also records its identity's address, so later moves are found.
//
// Thread-safety: one MoveFinder per read, used from one thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "concord/moves.h"
#include "concord/store.h"

namespace concord {

class MoveFinder {
 public:
  // index_all: record every member's identity (a full read: it fills the index of a store written
  // before identities were kept); otherwise only those of members new to the snapshot.
  // look_up: false for a first read (nothing stored can have moved).
  MoveFinder(Store& store, const PairHandle& pair, Side side, bool index_all, bool look_up)
      : store_(store), pair_(pair), side_(side), index_all_(index_all), look_up_(look_up) {}

  // A member this read writes: its key, address and identity ("" when it has none), what the
  // snapshot held at its key before (nullptr: nothing), and (CRM) every address the person has
  // now (normalised).
  void add(const MemberKey& key, const std::string& email, const std::string& identity,
           const std::optional<std::string>& stored, std::vector<std::string> addresses = {});
  // The same, with what the stored entry held already known: whether there was one, and whether
  // it held this identity.
  void add(const MemberKey& key, const std::string& email, const std::string& identity,
           bool was_stored, bool held, std::vector<std::string> addresses = {});

  // Looks the new keys' identities up, records the moves, deletes the old addresses from the
  // snapshot and records every identity's address, in one batch.
  Status flush();

  std::uint64_t moves() const { return moves_; }

 private:
  struct Seen {
    MemberKey key;
    std::string email;
    std::string identity;
    bool was_stored;
    bool is_new;  // the stored entry did not hold this identity
    bool index;   // record the identity's address
    std::vector<std::string> addresses;
  };
  Store& store_;
  const PairHandle& pair_;
  Side side_;
  bool index_all_;
  bool look_up_;
  std::vector<Seen> seen_;
  std::uint64_t moves_ = 0;
};

}  // namespace concord
