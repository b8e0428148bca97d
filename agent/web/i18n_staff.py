"""Words of the staff tablet's ticket actions (contract 8.7), merged into agent.web.i18n's
tables (kept apart so that module stays one screenful of tables shorter)."""

from __future__ import annotations

STAFF_ACTION_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "call": "Call",
        "move_to": "To {queue}",
        "undo": "Undo No. {n}",
        "counter_label": "My counter",
        "counter_flag": "counter {c}",
        "walk_in": "Add walk-in",
        "walk_in_flag": "walk-in",
        "walk_in_added": "Walk-in added: tell them number {n}",
    },
    "fr": {
        "call": "Appeler",
        "move_to": "Vers {queue}",
        "undo": "Annuler n° {n}",
        "counter_label": "Mon guichet",
        "counter_flag": "guichet {c}",
        "walk_in": "Ajouter un client",
        "walk_in_flag": "au comptoir",
        "walk_in_added": "Client ajouté : donnez-lui le numéro {n}",
    },
}
