"""Alert delivery when things go wrong: hung or picky mail servers, a broken household
settings file, a bad dead letter, two invocations at once. Real S3 (moto server over HTTP),
real SMTP servers (aiosmtpd) and sockets; only the clock of the retry pauses is ours."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr

from facewatch.alerts import delivery, webhook
from facewatch.alerts.dead_letters import retry_dead_letters
from facewatch.alerts.delivery import DELIVERY_BUDGET_SECONDS, deliver
from facewatch.alerts.handover import NOTIFY_WAIT_SECONDS, HttpNotifier
from facewatch.alerts.mail_transport import SesTransport, SmtpTransport
from facewatch.config import Settings
from facewatch.exceptions import AlertError, DeliveryError
from facewatch.household.settings import HouseholdSettings, save_household_settings
from facewatch.layout import alert_claim_key, dead_alert_key, dead_alerts_prefix, sent_alert_key
from facewatch.local.processes import free_port
from facewatch.records import Alert, DeliveryStatus
from facewatch.store.storage import Storage
from tests.conftest import NOTIFY_TOKEN, run_cli, stranger_alert

pytestmark = pytest.mark.integration


def settings(**kw) -> Settings:
    return Settings(_env_file=None, **{"mail_to": ["family@example.test"], **kw})


def plain_message(to: str) -> email.message.EmailMessage:
    message = email.message.EmailMessage()
    message["From"], message["To"], message["Message-ID"] = "fw@example.test", to, "<1@x>"
    message.set_content("hello")
    return message


class FakeTime:
    """The monotonic clock plus the retry pauses, which are not slept but added."""

    def __init__(self) -> None:
        self.paused = 0.0

    def pause(self, seconds: float) -> None:
        self.paused += seconds

    def clock(self) -> float:
        return time.monotonic() + self.paused


class Inbox:
    """An aiosmtpd handler: keeps what it is sent; refuses the recipients `refuse` names."""

    def __init__(self, refuse: dict[str, str] | None = None, slow: float = 0.0) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.refuse = refuse or {}
        self.slow = slow

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        await asyncio.sleep(self.slow)
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(self.slow)
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    started = []

    def start(handler: Inbox) -> int:
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def hung_server():
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()
    for conn in accepted:
        conn.close()


# --- 1. a hung mail server: delivery keeps within what its caller waits -------------------


class Hanging:
    """A channel whose every send takes its whole timeout and fails, in the fake time."""

    name = "smtp"

    def __init__(self, fake: FakeTime, timeout: float) -> None:
        self.fake, self.timeout, self.attempts = fake, timeout, 0

    def send(self, message: object) -> str:
        self.attempts += 1
        self.fake.pause(self.timeout)
        raise DeliveryError("timed out", retryable=True)


def test_two_hung_channels_fit_inside_what_recognize_and_the_platform_wait(storage, monkeypatch):
    """The worst case, email and webhook both hanging for their full timeouts, is over
    within the delivery budget, which recognize (HttpNotifier) and notify's own Lambda and
    Knative timeouts outwait with room for notify's S3 writes."""
    from tests.infra.helpers import INFRA, load_yaml_documents
    from tests.infra.sam import decoded_template

    fake = FakeTime()
    email_channel = Hanging(fake, timeout=settings().smtp_timeout)
    webhook_attempts = []

    def hanging_webhook(url, alert, links, timeout=webhook.WEBHOOK_TIMEOUT_SECONDS, **_):
        webhook_attempts.append(url)
        fake.pause(timeout)
        raise DeliveryError("webhook timed out", retryable=True)

    monkeypatch.setattr(webhook, "post_webhook", hanging_webhook)
    save_household_settings(
        storage, "home", HouseholdSettings(channels=["email", "webhook"], webhook_url="http://hook.test/")
    )
    start = fake.clock()
    outcome = deliver(
        stranger_alert(storage),
        storage=storage,
        mail=email_channel,
        settings=settings(),
        pause=fake.pause,
        clock=fake.clock,
    )
    took = fake.clock() - start
    assert str(outcome).startswith("dead-lettered: email: timed out; webhook: webhook timed out")
    assert email_channel.attempts >= 1 and len(webhook_attempts) >= 1  # each had its try
    assert took <= DELIVERY_BUDGET_SECONDS
    # recognize waits clearly longer than notify's budget (its S3 writes come after).
    assert HttpNotifier("http://notify.test/").timeout == NOTIFY_WAIT_SECONDS
    assert NOTIFY_WAIT_SECONDS >= DELIVERY_BUDGET_SECONDS + 10
    assert delivery.CLAIM_SECONDS > DELIVERY_BUDGET_SECONDS  # a live send's claim is never taken over
    resources = decoded_template()["Resources"]
    assert resources["NotifyFunction"]["Properties"]["Timeout"] > NOTIFY_WAIT_SECONDS
    assert resources["RecognizeFunction"]["Properties"]["Timeout"] > NOTIFY_WAIT_SECONDS
    knative = {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]["timeoutSeconds"]
        for d in load_yaml_documents(INFRA / "k8s" / "functions.yaml")
        if d.get("kind") == "Service" and "template" in d.get("spec", {})
    }
    assert knative["notify"] > NOTIFY_WAIT_SECONDS
    assert knative["recognize"] > NOTIFY_WAIT_SECONDS


def test_fast_failures_still_get_every_retry(storage):
    """A mail server restarting refuses at once: the whole 1 + 2 + 4 s schedule fits."""
    fake = FakeTime()
    channel = SmtpTransport("127.0.0.1", free_port())
    outcome = deliver(
        stranger_alert(storage), storage=storage, mail=channel, settings=settings(), pause=fake.pause
    )
    assert "refused the connection" in str(outcome)
    assert fake.paused == 1 + 2 + 4


def test_a_hung_smtp_server_is_given_up_on_when_another_try_could_overrun_the_budget(
    storage, hung_server, caplog
):
    port, accepted = hung_server
    fake = FakeTime()
    caplog.set_level(logging.WARNING, "facewatch.alerts.retries")
    # Each try hangs for its 0.5 s timeout. After the first (about 0.5 s in), a pause of
    # 1 s and another 0.5 s try end by 2 s: within 4 s. After the second (2 s in at the
    # least), a pause of 2 s and a try would end at 4.5 s at the least: not tried.
    outcome = deliver(
        stranger_alert(storage),
        storage=storage,
        mail=SmtpTransport("127.0.0.1", port, timeout=0.5),
        settings=settings(),
        pause=fake.pause,
        clock=fake.clock,
        budget=4.0,
    )
    assert str(outcome).startswith("dead-lettered")
    assert len(accepted) == 2
    assert "no time left to try again" in caplog.text
    assert storage.exists(dead_alert_key("home", "a1"))
    assert list(storage.list_keys("households/home/alerts/claims/")) == []


def test_an_smtp_session_is_bounded_as_a_whole_not_per_command(storage, smtp):
    """A server answering each command just inside the timeout must not hold a send for
    longer than the timeout (delivery's budget counts on it)."""
    inbox = Inbox(slow=0.35)
    port = smtp(inbox)
    with pytest.raises(AlertError, match="timed out"):
        SmtpTransport("127.0.0.1", port, timeout=0.5).send(plain_message("a@example.test"))
    assert inbox.messages == []


# --- 2. a household settings file that fails validation -----------------------------------


def test_an_invalid_household_settings_file_dead_letters_the_alert(storage):
    from facewatch.web.handlers import notify
    from facewatch.web.services import Services
    from facewatch.web.transport import guarded, lambda_result

    storage.put("households/home/settings.json", b'{"mail_to": ["x@example.test"], "tz": 1}')
    alert = stranger_alert(storage)
    services = Services(settings())
    services.storage = storage  # type: ignore[misc]
    services.mail = SmtpTransport("127.0.0.1", free_port())  # type: ignore[misc]
    # On Lambda an exception here would lose the alert: it must come back as kept.
    result = lambda_result(guarded("notify", lambda: notify(services, body=alert.model_dump(mode="json"))))
    assert result["status"] == 202
    assert "settings.json is invalid" in result["delivered"]
    letter = storage.get_json(dead_alert_key("home", "a1"))
    assert "settings.json is invalid" in letter["errors"][0]
    assert Alert.model_validate(letter["alert"]) == alert
    assert list(storage.list_keys("households/home/alerts/claims/")) == []


# --- 3. operator alerts go out once --------------------------------------------------------


def test_an_operator_alert_is_one_email_whatever_the_households_channels(storage, smtp, hook):
    url, posted = hook
    inbox = Inbox()
    port = smtp(inbox)
    both = HouseholdSettings(channels=["email", "webhook"], webhook_url=url)
    save_household_settings(storage, "home", both)
    alert = stranger_alert(storage, "op1").model_copy(
        update={"kind": "operator", "faces": [], "problem": "known encodings unreadable"}
    )
    outcome = deliver(alert, storage=storage, mail=SmtpTransport("127.0.0.1", port), settings=settings())
    assert str(outcome).startswith("sent email")
    assert len(inbox.messages) == 1
    assert "cannot judge faces" in inbox.messages[0]["Subject"]
    assert posted == []
    again = deliver(alert, storage=storage, mail=SmtpTransport("127.0.0.1", port), settings=settings())
    assert again.status is DeliveryStatus.ALREADY_SENT
    assert len(inbox.messages) == 1


# --- 4. SES gets a plain address as Source -------------------------------------------------


def test_ses_source_is_the_bare_address_when_the_sender_has_a_non_ascii_name():
    import boto3
    from moto import mock_aws
    from moto.ses.models import ses_backends

    from facewatch.alerts.mail import build_operator_email

    with mock_aws():
        ses = boto3.client("ses", region_name="eu-west-1")
        ses.verify_email_identity(EmailAddress="cam@example.test")
        sources = []
        ses.meta.events.register(
            "provide-client-params.ses.SendRawEmail", lambda params, **_: sources.append(params["Source"])
        )
        alert = Alert(
            alert_id="op1",
            household="home",
            camera="door",
            bucket="b",
            frame_key="households/home/frames/door/20261125/140000000000-abcdef12.jpg",
            captured_at=datetime.now(UTC),
            faces_in_frame=0,
            faces=[],
            kind="operator",
            problem="x",
        )
        message = build_operator_email(
            alert, mail_from="Türkamera Müller <cam@example.test>", mail_to=["Jürgen Groß <j@example.test>"]
        )
        SesTransport(ses).send(message)
        assert sources == ["cam@example.test"]
        [sent] = ses_backends["123456789012"]["eu-west-1"].sent_messages
        assert sent.destinations == ["j@example.test"] or "j@example.test" in str(sent.destinations)


# --- 5. `facewatch alerts retry` goes on past a letter it cannot send ----------------------


def test_alerts_retry_goes_on_past_a_bad_letter_and_says_it_failed(storage, outbox, monkeypatch):
    good = stranger_alert(storage, "good1")
    storage.put_json(dead_alert_key("home", "good1"), {"alert": good.model_dump(mode="json"), "errors": []})
    # Household "aaa" comes first: a letter someone edited by hand, no longer an alert.
    storage.put_json(dead_alert_key("aaa", "bad1"), {"alert": {"alert_id": "bad1"}, "errors": []})

    outcomes = retry_dead_letters(
        storage=storage, mail=SmtpTransport("127.0.0.1", outbox.port), settings=settings()
    )
    assert str(outcomes["bad1"]).startswith("dead-lettered: not retried: BadInput")
    assert str(outcomes["good1"]).startswith("sent email")
    assert len(outbox.messages) == 1
    assert list(storage.list_keys(dead_alerts_prefix("home"))) == []
    assert storage.exists(dead_alert_key("aaa", "bad1"))  # kept for a person to look at

    monkeypatch.setenv("FACEWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("FACEWATCH_SMTP_PORT", str(outbox.port))
    monkeypatch.setenv("FACEWATCH_MAIL_TO", "family@example.test")
    done = run_cli(storage, "alerts", "retry")
    assert done.returncode == 1, done.stderr
    assert "bad1: dead-lettered: not retried" in done.stdout
    assert "0 sent, 1 still failing" in done.stderr


# --- 6. SMTP recipients refused ------------------------------------------------------------


def test_every_recipient_greylisted_is_a_retryable_error(smtp):
    greylist = "450 4.2.0 greylisted, try again later"
    port = smtp(Inbox(refuse={"a@example.test": greylist, "b@example.test": greylist}))
    with pytest.raises(AlertError, match=r"refused a@example.test \(450") as info:
        SmtpTransport("127.0.0.1", port).send(plain_message("a@example.test, b@example.test"))
    assert info.value.retryable is True


def test_every_recipient_refused_for_good_is_a_final_error(smtp):
    port = smtp(Inbox(refuse={"a@example.test": "550 5.1.1 no such user"}))
    with pytest.raises(AlertError, match="550") as info:
        SmtpTransport("127.0.0.1", port).send(plain_message("a@example.test"))
    assert info.value.retryable is False


def test_a_refused_recipient_among_others_is_logged_and_not_sent_twice(storage, smtp, caplog):
    inbox = Inbox(refuse={"grey@example.test": "450 4.2.0 greylisted"})
    port = smtp(inbox)
    caplog.set_level(logging.WARNING)
    outcome = deliver(
        stranger_alert(storage),
        storage=storage,
        mail=SmtpTransport("127.0.0.1", port),
        settings=settings(mail_to=["family@example.test", "grey@example.test"]),
    )
    assert str(outcome).startswith("sent email")
    assert len(inbox.messages) == 1
    assert "refused grey@example.test (450" in caplog.text


# --- 7. recognize records a dead-lettered hand-over as such --------------------------------


def test_http_notifier_reads_notifys_202_as_dead_lettered(start_function, storage):
    notify = start_function(
        "notify",
        FACEWATCH_BUCKET=storage.bucket,
        FACEWATCH_SMTP_HOST="127.0.0.1",
        FACEWATCH_SMTP_PORT=str(free_port()),
        FACEWATCH_MAIL_TO="family@example.test",
    )
    alert = stranger_alert(storage)
    notifier = HttpNotifier(notify.url, token=SecretStr(NOTIFY_TOKEN))
    assert notifier.send(alert).status is DeliveryStatus.DEAD_LETTERED
    assert storage.exists(dead_alert_key("home", "a1"))


# --- 8. claims -------------------------------------------------------------------------------


class Watching:
    """A real SMTP channel that notes the claim held while it sends."""

    name = "smtp"

    def __init__(self, inner: SmtpTransport, storage: Storage, key: str) -> None:
        self.inner, self.storage, self.key, self.timeout = inner, storage, key, inner.timeout
        self.claims: list[dict] = []

    def send(self, message: email.message.EmailMessage) -> str:
        self.claims.append(self.storage.get_json(self.key))
        return self.inner.send(message)


def test_a_claim_is_stamped_when_taken_and_released_once_sent(storage, smtp):
    port = smtp(Inbox())
    alert = stranger_alert(storage)
    channel = Watching(SmtpTransport("127.0.0.1", port), storage, alert_claim_key("home", "a1", "email"))
    taken_after = datetime.now(UTC)
    # deliver started long ago (as after a slow first channel): the claim is still fresh.
    outcome = deliver(
        alert, storage=storage, mail=channel, settings=settings(), now=taken_after - timedelta(hours=1)
    )
    assert str(outcome).startswith("sent email")
    [claim] = channel.claims
    assert datetime.fromisoformat(claim["claimed_at"]) >= taken_after - timedelta(seconds=1)
    assert storage.exists(sent_alert_key("home", "a1", "email"))
    assert list(storage.list_keys("households/home/alerts/claims/")) == []


class LateSight(Storage):
    """The bucket as seen by an invocation that checked for the sent record just before
    another invocation wrote it (and then let go of its claim)."""

    def __init__(self, storage: Storage) -> None:
        super().__init__(storage.client, storage.bucket)
        self.missed: set[str] = set()

    def exists(self, key: str) -> bool:
        if "/alerts/sent/" in key and key not in self.missed:
            self.missed.add(key)
            return False
        return super().exists(key)


def test_a_claim_taken_after_another_invocation_sent_and_let_go_sends_nothing(storage, smtp):
    inbox = Inbox()
    port = smtp(inbox)
    alert = stranger_alert(storage)
    storage.put_json(sent_alert_key("home", "a1", "email"), {"alert_id": "a1", "channel": "email"})
    outcome = deliver(
        alert, storage=LateSight(storage), mail=SmtpTransport("127.0.0.1", port), settings=settings()
    )
    assert outcome.status is DeliveryStatus.ALREADY_SENT
    assert inbox.messages == []
    assert list(storage.list_keys("households/home/alerts/claims/")) == []


def test_a_fresh_claim_holds_and_a_stale_one_is_taken_over(storage, smtp):
    from facewatch.exceptions import AlertInProgress

    inbox = Inbox()
    port = smtp(inbox)
    alert = stranger_alert(storage)
    key = alert_claim_key("home", "a1", "email")
    storage.put_json(key, {"alert_id": "a1", "claimed_at": datetime.now(UTC).isoformat()})
    with pytest.raises(AlertInProgress):
        deliver(alert, storage=storage, mail=SmtpTransport("127.0.0.1", port), settings=settings())
    stale = datetime.now(UTC) - timedelta(seconds=delivery.CLAIM_SECONDS + 1)
    storage.put_json(key, {"alert_id": "a1", "claimed_at": stale.isoformat()})
    outcome = deliver(alert, storage=storage, mail=SmtpTransport("127.0.0.1", port), settings=settings())
    assert str(outcome).startswith("sent email")
    assert len(inbox.messages) == 1
    assert not storage.exists(key)
