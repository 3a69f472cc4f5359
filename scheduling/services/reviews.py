"""Reviews of completed visits and helpful votes.

Ratings are never stored on the doctor: the directory derives average and count from the
visible reviews in the same query that lists doctors (selectors.with_ratings), so they
cannot drift. Like every service, these follow the global lock order (core/locking.py):
the users they reference (key share), then the appointment, then the review.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from accounts.models import User
from audit.services import audit_record
from core.exceptions import (
    ALREADY_REVIEWED,
    NOT_COMPLETED,
    OWN_REVIEW,
    REVIEW_LOCKED,
    Conflict,
)
from core.locking import lock_users, service_transaction
from scheduling.models import Appointment, Review, ReviewVote

EDIT_WINDOW = datetime.timedelta(days=7)


@service_transaction
def review_create(
    *, actor: User, appointment: Appointment, rating: int, comment: str = ""
) -> Review:
    """The patient reviews their own completed visit, once."""
    lock_users(shared=[actor.pk, appointment.patient_id, appointment.doctor_id])
    appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
    if appointment.status != Appointment.Status.COMPLETED:
        raise Conflict(NOT_COMPLETED, gettext("Only completed appointments can be reviewed."))
    if Review.objects.filter(appointment=appointment).exists():
        raise Conflict(ALREADY_REVIEWED, gettext("This appointment has already been reviewed."))
    try:
        with transaction.atomic():
            review = Review.objects.create(
                appointment=appointment,
                doctor_id=appointment.doctor_id,
                author_id=appointment.patient_id,
                rating=rating,
                comment=comment,
            )
    except IntegrityError as error:
        raise Conflict(
            ALREADY_REVIEWED, gettext("This appointment has already been reviewed.")
        ) from error
    audit_record(
        action="review.created",
        target=review,
        actor=actor,
        data={"appointment": appointment.pk, "doctor": appointment.doctor_id, "rating": rating},
    )
    return review


def _lock_review(*, actor: User, review: Review) -> Review:
    """The users the review references, then the review's row (DoesNotExist once deleted)."""
    lock_users(shared=[actor.pk, review.author_id, review.doctor_id])
    return Review.objects.select_for_update().get(pk=review.pk)


def _check_editable(review: Review) -> None:
    """Authors may change a review for EDIT_WINDOW after writing it."""
    if timezone.now() - review.created_at > EDIT_WINDOW:
        raise Conflict(
            REVIEW_LOCKED, gettext("Reviews can be changed for 7 days after writing them.")
        )


@service_transaction
def review_update(
    *, actor: User, review: Review, rating: int | None = None, comment: str | None = None
) -> Review:
    """The author changes rating or comment within 7 days of writing the review.

    Review.DoesNotExist when a concurrent request deleted it (the API answers 404)."""
    review = _lock_review(actor=actor, review=review)
    _check_editable(review)
    changed = []
    for name, value in (("rating", rating), ("comment", comment)):
        if value is not None and getattr(review, name) != value:
            setattr(review, name, value)
            changed.append(name)
    if changed:
        review.save(update_fields=[*changed, "updated_at"])
        audit_record(action="review.updated", target=review, actor=actor, data={"fields": changed})
    return review


@service_transaction
def review_delete(*, actor: User, review: Review) -> None:
    """The author removes their review within 7 days of writing it (votes go with it).

    Review.DoesNotExist when a concurrent request deleted it first (the API answers 404)."""
    review = _lock_review(actor=actor, review=review)
    _check_editable(review)
    audit_record(
        action="review.deleted",
        target=review,
        actor=actor,
        data={"appointment": review.appointment_id, "doctor": review.doctor_id},
    )
    review.delete()


@service_transaction
def review_hide(*, actor: User, review: Review) -> Review:
    """Staff moderation: a hidden review leaves the public list and the average."""
    review = _lock_review(actor=actor, review=review)
    if review.hidden_at is None:
        review.hidden_at = timezone.now()
        review.save(update_fields=["hidden_at", "updated_at"])
        audit_record(action="review.hidden", target=review, actor=actor)
    return review


@service_transaction
def review_unhide(*, actor: User, review: Review) -> Review:
    """Undo a moderation decision."""
    review = _lock_review(actor=actor, review=review)
    if review.hidden_at is not None:
        review.hidden_at = None
        review.save(update_fields=["hidden_at", "updated_at"])
        audit_record(action="review.unhidden", target=review, actor=actor)
    return review


@service_transaction
def review_vote(*, actor: User, review: Review, value: int) -> int | None:
    """Vote +1 or -1; the same value again removes the vote. Returns the caller's vote now.

    The review's row is locked first: votes on one review queue behind each other and behind
    its deletion (Review.DoesNotExist once it is gone), instead of inserting a vote whose
    foreign key fails at commit.
    """
    review = _lock_review(actor=actor, review=review)
    if review.author_id == actor.pk:
        raise Conflict(OWN_REVIEW, gettext("You cannot vote on your own review."))
    existing = ReviewVote.objects.select_for_update().filter(review=review, voter=actor).first()
    if existing is not None and existing.value == value:
        existing.delete()
        my_vote = None
    elif existing is not None:
        existing.value = value
        existing.save(update_fields=["value"])
        my_vote = value
    else:
        try:
            with transaction.atomic():
                ReviewVote.objects.create(review=review, voter=actor, value=value)
        except IntegrityError:  # a concurrent vote of the same voter won: keep theirs
            pass
        my_vote = value
    audit_record(action="review.voted", target=review, actor=actor, data={"value": my_vote})
    return my_vote
