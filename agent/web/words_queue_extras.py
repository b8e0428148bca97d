"""Words of issue 14's queue extras on the tablet (priority classes, booked appointments),
merged into agent.web.i18n's tables like the other word modules."""

from __future__ import annotations

QUEUE_EXTRA_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "priority_label": "Priority for No. {n}",
        "priority_none": "No priority",
        "priority_flag": "priority: {p}",
        "booked_flag": "booked {t}",
        "appointments_heading": "Booked",
        "appointment_line": "{t} · {name}",
        "appointment_due": "expected",
        "appointment_no_name": "booked customer",
        "appointment_check_in": "Check in",
        "appointment_check_in_label": "Check in {name}, booked {t}",
        "appointment_checked_in": "Checked in: No. {n}",
        "appointment_link_title": "Ticket page",
        "appointment_link_text": "No. {n}: the customer scans this to follow it on their phone.",
        "appointment_link_close": "Close",
    },
    "fr": {
        "priority_label": "Priorité du n° {n}",
        "priority_none": "Sans priorité",
        "priority_flag": "prioritaire : {p}",
        "booked_flag": "RDV {t}",
        "appointments_heading": "Rendez-vous",
        "appointment_line": "{t} · {name}",
        "appointment_due": "attendu",
        "appointment_no_name": "client avec rendez-vous",
        "appointment_check_in": "Enregistrer l'arrivée",
        "appointment_check_in_label": "Enregistrer l'arrivée de {name}, RDV {t}",
        "appointment_checked_in": "Arrivée enregistrée : n° {n}",
        "appointment_link_title": "Page du ticket",
        "appointment_link_text": "N° {n} : le client scanne ce code pour le suivre sur son mobile.",
        "appointment_link_close": "Fermer",
    },
}
