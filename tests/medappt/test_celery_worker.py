"""Background jobs on a real Celery worker and a real Redis broker (marker `celery`).

They run where CELERY_BROKER_URL is set (CI gives the broker its own Redis database): a
booking's mails are sent by the worker, not the request; a task queued twice sends once; a
worker killed in the middle of a mail leaves the task to another worker, which sends it once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection, connections, transaction

from core import mail as outbox
from core.jobs import dispatch
from core.models import EmailMessage
from core.tasks import send_email
from medappt.celery import app
from tests.scheduling.appointment_helpers import APPOINTMENTS_URL
from tests.support.clients import client_for
from tests.support.factories import PatientFactory, TimeBlockFactory

pytestmark = [
    pytest.mark.celery,
    pytest.mark.skipif(
        not django_settings.CELERY_BROKER_URL,
        reason="needs a Redis broker: set CELERY_BROKER_URL (its own Redis database)",
    ),
    pytest.mark.django_db(transaction=True),
]


def wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.fixture
def broker_mode(settings):
    """Jobs go to the broker, as in production, for this test."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.task_always_eager = False
    app.conf.broker_url = django_settings.CELERY_BROKER_URL
    with app.connection_for_write() as conn:  # start from an empty queue
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    yield
    app.conf.task_always_eager = True


@contextmanager
def worker() -> Iterator[None]:
    """A real worker in a thread of this process (its mails land in mail.outbox)."""
    # start_worker sets the root logger to its own level (ERROR) and leaves it there, which
    # silenced every later test that reads a warning through caplog (the deadlock retries).
    root_level = logging.root.level
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        logging.root.setLevel(root_level)
        connections.close_all()


def test_a_bookings_mails_are_sent_by_the_worker(broker_mode):
    patient = PatientFactory()
    block = TimeBlockFactory()

    response = client_for(patient).post(APPOINTMENTS_URL, {"time_block": block.pk})

    assert response.status_code == 201, response.content
    # The request queued two mails and sent none.
    assert mail.outbox == []
    assert sorted(EmailMessage.objects.values_list("status", flat=True)) == ["pending"] * 2
    with worker():
        assert wait_for(lambda: len(mail.outbox) == 2, 10)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([patient.email, block.doctor.email])
    assert set(EmailMessage.objects.values_list("status", flat=True)) == {"sent"}


def test_a_task_queued_twice_sends_once(broker_mode):
    with transaction.atomic():
        message = outbox.mail_queue(
            template="appointment_cancelled",
            recipient="pat@example.com",
            context={
                "recipient_name": "Pat",
                "doctor_name": "Dr Who",
                "patient_name": "Pat Doe",
                "location": "",
                "for_doctor": False,
                "appointment_id": 1,
                "start": "2030-01-07T09:00:00+00:00",
                "end": "2030-01-07T09:30:00+00:00",
                "timezone": "UTC",
            },
        )
    dispatch(send_email, (message.pk,))  # the same job again, as a redelivery would

    with worker():
        assert wait_for(lambda: len(mail.outbox) >= 1, 10)
        time.sleep(1)  # time for the second run to (not) send
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("sent", 1)


@contextmanager
def silent_smtp_server() -> Iterator[int]:
    """A mail server that accepts connections and never answers: a send hangs in it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for sock in accepted:
            sock.close()
        server.close()


def mails_in(directory: Path) -> int:
    """Mails the file backend wrote (it may append several to one file)."""
    return sum(p.read_text().count("\nMessage-ID: ") for p in directory.iterdir())


@contextmanager
def worker_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A worker in its own process, as on another host; stopped (SIGTERM) at the end unless
    the test killed it."""
    database = connection.settings_dict
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "medappt.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
            f"{database['NAME']}"
        ),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_VISIBILITY_TIMEOUT": "2",
        "EMAIL_LEASE_SECONDS": "2",
        **env,
    }
    command = [sys.executable, "-m", "celery", "-A", "medappt", "worker", "--pool=solo"]
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [*command, "--loglevel=INFO", "--without-heartbeat", "--without-gossip"],
            cwd=django_settings.BASE_DIR,
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


@pytest.mark.postgres
def test_a_worker_killed_mid_mail_leaves_it_to_another_that_sends_it_once(broker_mode, tmp_path):
    sent_dir = tmp_path / "sent"
    sent_dir.mkdir()
    patient = PatientFactory()
    with (
        silent_smtp_server() as port,
        worker_process(
            {"EMAIL_URL": f"smtp://127.0.0.1:{port}", "EMAIL_TIMEOUT": "60"},
            tmp_path / "first.log",
        ) as first,
    ):
        response = client_for(patient).post(APPOINTMENTS_URL, {"time_block": TimeBlockFactory().pk})
        assert response.status_code == 201
        # The first worker claims a mail and hangs in the mail server: kill it there.
        claimed = wait_for(lambda: EmailMessage.objects.filter(status="sending").exists(), 30)
        first.send_signal(signal.SIGKILL)
        assert claimed, (tmp_path / "first.log").read_text()
    time.sleep(3)  # the claim's lease and the broker's visibility timeout run out

    # django-environ drops the first slash of a filemail path: four make it absolute.
    with worker_process({"EMAIL_URL": f"filemail:///{sent_dir}"}, tmp_path / "second.log"):
        # The killed worker's task comes back, and the other mail was still queued.
        sent = wait_for(lambda: mails_in(sent_dir) == 2, 30)
        rows = list(EmailMessage.objects.values("status", "attempts", "last_error"))
        assert sent, (rows, (tmp_path / "second.log").read_text()[-1500:])
    outbox.mail_send_due()  # a periodic run finds nothing left to send

    assert mails_in(sent_dir) == 2
    assert set(EmailMessage.objects.values_list("status", flat=True)) == {"sent"}
