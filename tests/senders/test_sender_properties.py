"""Properties of what the senders write, for any text a message may hold."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from hypothesis import given
from hypothesis import strategies as st
from local_servers import outbound

from servflow import DeliveryError, OutboundMessage, SmtpSender
from servflow.senders.jsonl import jsonl_line
from servflow.senders.smtp import one_line

# Any text, with line breaks of every kind, and long enough to be folded in a header.
texts = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=40),
        st.sampled_from(["\n", "\r", "\r\n", "\u2028", "\x85", " ", "\t", "=?utf-8?q?x?="]),
    ),
    max_size=12,
).map("".join)
SENDER = SmtpSender("mail.example", sender="Acme <support@acme.example>")


def wire(mail: EmailMessage) -> EmailMessage:
    """The mail as smtplib sends it, read back by a mail reader."""
    content = mail.as_bytes(policy=policy.SMTP).replace(b"\r\n", b"\n")
    read = message_from_bytes(content, policy=policy.default)
    assert isinstance(read, EmailMessage)
    return read


def lines_of(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


@given(subject=texts, body=texts, key=texts.filter(bool), customer=texts)
def test_a_mail_reads_back_with_the_messages_subject_and_body(
    subject: str, body: str, key: str, customer: str
) -> None:
    message = outbound(subject=subject, body=body, key=key[:200], customer_id=customer)
    read = wire(SENDER.compose(message))
    assert read["Subject"] == one_line(subject)
    got = read.get_content()
    assert isinstance(got, str)
    want = lines_of(body)
    if want[-1] == "":
        want.pop()
    assert got == ("".join(line + "\n" for line in want) or "\n")  # an empty body: one line
    assert read["X-Servflow-Key"] == one_line(key[:200])
    assert read["Message-ID"] == SENDER.compose(message)["Message-ID"]


@given(subject=texts.map(one_line))
def test_a_one_line_subject_reads_back_exactly(subject: str) -> None:
    read = wire(SENDER.compose(outbound(subject=subject)))
    assert read["Subject"] == subject


@given(
    subject=texts,
    body=texts,
    key=texts.filter(bool),
    to=st.lists(texts, max_size=3).map(tuple),
    personal=st.booleans(),
    attempt=st.integers(1, 10**6),
)
def test_a_jsonl_line_is_one_line_that_reads_back_as_the_same_message(
    subject: str,
    body: str,
    key: str,
    to: tuple[str, ...],
    personal: bool,  # noqa: FBT001 - hypothesis passes it by name
    attempt: int,
) -> None:
    message = outbound(
        subject=subject, body=body, key=key[:200], to=to, personal=personal, attempt=attempt
    )
    line = jsonl_line(message).decode("utf-8")
    assert line.endswith("\n")
    assert len(line.splitlines()) == 1
    assert OutboundMessage.model_validate_json(line) == message


contacts = st.one_of(
    texts,
    st.emails().map(str),
    st.builds(lambda name, address: f"{name} <{address}>", texts, st.emails()),
    st.sampled_from(["@", "a@", "@b", "a@b@c", "a@b, c@d", "<a@b>", '"a b"@c.example']),
)


@given(to=st.lists(contacts, max_size=4).map(tuple))
def test_a_mail_goes_to_addresses_of_the_contacts_or_is_refused_with_a_delivery_error(
    to: tuple[str, ...],
) -> None:
    try:
        mail = SENDER.compose(outbound(to=to))
    except DeliveryError as error:
        refused: DeliveryError | None = error
    else:
        refused = None
    if refused is not None:
        assert not refused.retryable
        return
    recipients = [address.addr_spec for address in mail["To"].addresses]
    assert recipients
    assert all(any(r in contact for contact in to) for r in recipients)
    assert wire(mail)["To"] == mail["To"]
