"""Senders servflow ships for the outbox: a JSON Lines file, a signed webhook, SMTP mail.

Each has ``send(message)`` (the ``servflow.Sender`` protocol) and raises ``DeliveryError`` on
failure, saying whether trying again may help. They are adapters: nothing in servflow imports
them but the package's public API, and what they need beyond the standard library (httpx, for
the webhook) is imported when one is made.
"""

from servflow.senders.jsonl import JsonlSender
from servflow.senders.smtp import SmtpSender
from servflow.senders.webhook import WebhookSender, verify_signature

__all__ = ["JsonlSender", "SmtpSender", "WebhookSender", "verify_signature"]
