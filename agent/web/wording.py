"""What an error answer says, in the caller's language.

Services and the core refuse with a stable code only (`QueueRuleError("not_active")`); the
web layer puts the code and these words in the contract's error envelope. The join page's
words for the refusals it shows itself (expired code, closed, full) are the pages' own
(agent.web.i18n), so a phone reads the same sentence either way.
"""

from __future__ import annotations

from fastapi import Request

from agent.web.i18n import DEFAULT_LOCALE, LANG_COOKIE, choose_locale, french_spacing, strings

# Codes whose words the pages already have.
_PAGE_WORDS = {
    "window_token_expired": "err_expired",
    "closed": "err_closed",
    "queue_full": "err_full",
}

_ERRORS: dict[str, dict[str, str]] = {
    "en": {
        "not_active": "This ticket is no longer in the queue.",
        "nobody_waiting": "Nobody is waiting in this queue.",
        "not_called": "Only a called ticket can be served or marked as a no-show.",
        "not_called/served": "Only a called ticket can be served.",
        "not_called/no_show": "Only a called ticket can be a no-show.",
        "not_called/recall": "Only a called or no-show ticket can be recalled.",
        "not_waiting": "Only a waiting ticket can ask for more time.",
        "already_snoozed": "You have already asked for more time once.",
        "invalid_code": "This code is wrong, used or expired.",
        "too_many_attempts": "Too many wrong codes. Please wait and try again.",
        "not_waiting/call": "Only a waiting ticket can be called.",
        "not_waiting/move": "Only a waiting ticket can move to another queue.",
        "not_active/left": "This ticket is no longer in the queue.",
        "nothing_to_undo": "There is nothing to undo on this ticket (or it was over a minute ago).",
        "unknown_counter": "This queue has no counter by that name.",
        "unknown_queue": "There is no queue by that name here.",
        "same_queue": "The ticket is already in that queue.",
        "unknown_priority": "There is no priority class by that name here.",
        "not_waiting/priority": "Only a waiting ticket can be given or lose a priority.",
        "appointment_checked_in": "This booking is already checked in.",
        "appointment_cancelled": "This booking was cancelled.",
        "appointment_no_show": "This booking has passed: it is a no-show. Add a walk-in.",
        "appointment_too_early": "Too early for this booking. Add a walk-in, or check in later.",
        "appointment_not_today": "This booking is not for today.",
    },
    "fr": {
        "not_active": "Ce ticket n'est plus dans la file.",
        "nobody_waiting": "Personne n'attend dans cette file.",
        "not_called": "Seul un ticket appelé peut être servi ou marqué absent.",
        "not_called/served": "Seul un ticket appelé peut être servi.",
        "not_called/no_show": "Seul un ticket appelé peut être marqué absent.",
        "not_called/recall": "Seul un ticket appelé ou absent peut être rappelé.",
        "not_waiting": "Seul un ticket en attente peut demander un peu plus de temps.",
        "already_snoozed": "Vous avez déjà demandé un peu plus de temps une fois.",
        "invalid_code": "Ce code est faux, déjà utilisé ou expiré.",
        "too_many_attempts": "Trop de codes faux. Merci de patienter avant de réessayer.",
        "not_waiting/call": "Seul un ticket en attente peut être appelé.",
        "not_waiting/move": "Seul un ticket en attente peut changer de file.",
        "not_active/left": "Ce ticket n'est plus dans la file.",
        "nothing_to_undo": "Rien à annuler sur ce ticket (ou c'était il y a plus d'une minute).",
        "unknown_counter": "Cette file n'a pas de guichet de ce nom.",
        "unknown_queue": "Il n'y a pas de file de ce nom ici.",
        "same_queue": "Le ticket est déjà dans cette file.",
        "unknown_priority": "Il n'y a pas de priorité de ce nom ici.",
        "not_waiting/priority": "Seul un ticket en attente peut recevoir ou perdre une priorité.",
        "appointment_checked_in": "Ce rendez-vous est déjà enregistré.",
        "appointment_cancelled": "Ce rendez-vous a été annulé.",
        "appointment_no_show": (
            "Ce rendez-vous est passé : client absent. Ajoutez un client sans rendez-vous."
        ),
        "appointment_too_early": (
            "Trop tôt pour ce rendez-vous. Ajoutez un client sans rendez-vous, ou plus tard."
        ),
        "appointment_not_today": "Ce rendez-vous n'est pas pour aujourd'hui.",
    },
}
_ERRORS["fr"] = {code: french_spacing(text) for code, text in _ERRORS["fr"].items()}


def request_locale(request: Request, fallback: str | None = None) -> str:
    """As for the pages: ?lang=, then the remembered choice, then ``fallback`` (a ticket's
    or a join's own language), then Accept-Language."""
    return choose_locale(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
        fallback,
    )


def error_message(locale: str, code: str, action: str | None = None) -> str:
    """The sentence for ``code``; ``action`` picks a more precise one where there is one
    (`not_called` when serving reads differently from when recalling)."""
    if code in _PAGE_WORDS:
        return strings(locale)[_PAGE_WORDS[code]]
    words = _ERRORS.get(locale, _ERRORS[DEFAULT_LOCALE])
    if action is not None and f"{code}/{action}" in words:
        return words[f"{code}/{action}"]
    return words.get(code) or strings(locale)["err_generic"]
