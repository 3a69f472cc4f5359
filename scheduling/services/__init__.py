"""Every state change of scheduling: time blocks, the appointment lifecycle and reviews.

Each service is keyword-only, runs in one transaction, records its audit event in it and
is race-safe: the rows it decides on are locked (`select_for_update`), and the database
constraints behind each rule turn a lost race into an IntegrityError inside a savepoint,
which becomes the same 409 the check would have given.

core.locking holds the transaction decorator and the global lock order every service
follows; blocks, appointments and reviews hold the services, checks the rules they share.
"""

from scheduling.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_complete,
    appointment_confirm,
    appointment_no_show,
    appointment_reschedule,
    appointment_update,
    appointment_writable_fields,
    appointments_cancel_for_deactivated,
    check_bookable_patient,
)
from scheduling.services.blocks import (
    BulkResult,
    time_block_bulk_create,
    time_block_create,
    time_block_delete,
    time_block_update,
)
from scheduling.services.checks import MAX_BULK_DAYS, MAX_BULK_SLOTS
from scheduling.services.desk import appointment_check_in, appointment_start_visit
from scheduling.services.holds import slot_hold_create, slot_hold_release, slot_holds_expire
from scheduling.services.leaves import (
    LeaveCreated,
    LeavePreview,
    LeaveResolution,
    leave_cancel,
    leave_create,
    leave_preview,
    leave_resolve,
)
from scheduling.services.reviews import (
    review_create,
    review_delete,
    review_hide,
    review_unhide,
    review_update,
    review_vote,
)
from scheduling.services.visit_types import (
    doctor_visit_types_set,
    visit_type_create,
    visit_type_deactivate,
    visit_type_update,
)
from scheduling.services.waitlist import waitlist_entry_cancel, waitlist_entry_create
from scheduling.services.waitlist_offers import (
    waitlist_offer_accept,
    waitlist_offer_decline,
    waitlist_process,
    waitlist_process_block,
)

__all__ = [
    "MAX_BULK_DAYS",
    "MAX_BULK_SLOTS",
    "BulkResult",
    "LeaveCreated",
    "LeavePreview",
    "LeaveResolution",
    "appointment_book",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_confirm",
    "appointment_no_show",
    "appointment_reschedule",
    "appointment_start_visit",
    "appointment_update",
    "appointment_writable_fields",
    "appointments_cancel_for_deactivated",
    "check_bookable_patient",
    "doctor_visit_types_set",
    "leave_cancel",
    "leave_create",
    "leave_preview",
    "leave_resolve",
    "review_create",
    "review_delete",
    "review_hide",
    "review_unhide",
    "review_update",
    "review_vote",
    "slot_hold_create",
    "slot_hold_release",
    "slot_holds_expire",
    "time_block_bulk_create",
    "time_block_create",
    "time_block_delete",
    "time_block_update",
    "visit_type_create",
    "visit_type_deactivate",
    "visit_type_update",
    "waitlist_entry_cancel",
    "waitlist_entry_create",
    "waitlist_offer_accept",
    "waitlist_offer_decline",
    "waitlist_process",
    "waitlist_process_block",
]
