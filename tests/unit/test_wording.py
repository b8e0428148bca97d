"""Every refusal code the queue can give has its own words in each language, and the core's
errors carry no words at all (the web layer chooses them)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.core.queue import QueueBook, QueueRuleError, Ticket, TicketState
from agent.web.i18n import strings
from agent.web.wording import error_message

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
# Every code agent/core/queue.py and agent/services/queue raise.
QUEUE_CODES = (
    "window_token_expired",
    "closed",
    "queue_full",
    "not_active",
    "nobody_waiting",
    "not_called",
    "not_waiting",
    "already_snoozed",
    "invalid_code",
    "too_many_attempts",
    "nothing_to_undo",
    "unknown_counter",
    "unknown_queue",
    "same_queue",
)


@pytest.mark.parametrize("code", QUEUE_CODES)
def test_each_code_has_its_own_words_in_each_language(code: str) -> None:
    english, french = (error_message(locale, code) for locale in ("en", "fr"))
    for locale, text in (("en", english), ("fr", french)):
        assert text and text != strings(locale)["err_generic"], (locale, code)
    assert english != french


def test_an_unknown_code_gets_the_generic_words_and_an_action_can_be_more_precise() -> None:
    assert error_message("fr", "no_such_code") == strings("fr")["err_generic"]
    assert error_message("en", "not_called", "served") == "Only a called ticket can be served."
    assert error_message("en", "not_called", "recall") != error_message("en", "not_called")
    assert error_message("de", "not_active") == error_message("en", "not_active")


def test_the_core_refuses_with_a_code_only() -> None:
    book = QueueBook("advice")
    waiting = Ticket("t1", "advice", 1, TicketState.WAITING, 1.0, T0, "h")
    with pytest.raises(QueueRuleError) as info:
        book.served(waiting, T0)
    assert info.value.code == "not_called" and str(info.value) == "not_called"
