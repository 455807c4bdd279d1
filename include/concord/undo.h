// `concord undo`: the inverse of a run's writes that still stand (docs/operations.md, "Undoing a
// run").
//
// plan_undo() is a planner for run_sync() (RunRequest::planner): over the snapshots the run just
// fetched it reads the undone run's journal and plans, member by member, the inverse of each write
// that took effect (done or verified):
//   add_to_mailchimp / pending        → unsubscribe (archive when the member was archived before)
//   unsubscribe / archive             → subscribe (pending when it was pending before)
//   add_to_crm / create_crm_contact   → remove_from_crm (a created contact is left, and reported)
//   remove_from_crm                   → add_to_crm
//   hold_crm_email                    → release_crm_hold
//   update_*_fields                   → the same fields with their values before the run
//   tags and interests                → taken off / put back
//   change_email_*                    → not undone (reported)
// A member that changed after the undone run wrote it — a later run wrote it (other than an undo
// of the same run), or either side's record changed later (Mailchimp's last_changed, the CRM's
// history date or the contact's modified_date) — is left alone and reported (kChangedSinceRun):
// an undo never overrides a newer change. A write an earlier, killed undo of the same run already
// reversed is not planned again, so an undo resumes where it stopped.
//
// Each inverse write restores the member's base from before the undone run (Operation::
// restores_base), so that the next sync decides the member as it would have before that run, and
// keeps what the side held before it (Operation::before), so that the undo can be undone.
//
// Thread-safety: reads a Store; one call at a time per pair.
#pragma once

#include <cstdint>

#include "concord/diff.h"
#include "concord/plan.h"
#include "concord/status.h"
#include "concord/store.h"

namespace concord {

// Plans the undo of run `undone` of `pair` into `sink`, as run `this_run` (later runs are those
// between the two). kNotFound when the run does not exist; kFailedPrecondition when it wrote
// nothing that can be undone (a plan, a run stopped by a guard, a journal pruned by retention).
// Whether run `undone` exists and applied writes (the first checks of plan_undo(), for a caller
// that wants to refuse before a run is recorded).
Status check_undoable(Store& store, const PairHandle& pair, std::uint64_t undone);

Result<DiffResult> plan_undo(Store& store, const PairHandle& pair, std::uint64_t undone,
                             std::uint64_t this_run, PlanSink& sink);

// The write that reverses `kind`, given what the written side held before it (a MailchimpStatus or
// CrmStatus; nullopt when the journal does not say). nullopt: `kind` is not undone (an address
// change).
std::optional<OpKind> inverse_of(OpKind kind, std::optional<std::uint8_t> status_before);

}  // namespace concord
