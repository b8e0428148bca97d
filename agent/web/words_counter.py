"""Words of the counter's ticket printer and of the manager view, merged into
agent.web.i18n's tables (kept apart so the shared tables stay short)."""

from __future__ import annotations

COUNTER_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "print_heading": "Your number",
        "print_hint": "Scan to follow your turn on your phone",
        "print_again": "Print No. {n} again",
        "print_done": "Ticket No. {n} printed",
        "print_no_link": "Ticket No. {n} printed without its QR code (the agent restarted since)",
        "print_failed": (
            "The printer did not answer: ticket No. {n} was not printed. Tell them the number."
        ),
        "print_busy": "The printer is busy: ticket No. {n} was not printed.",
        "manager_link": "Manager view",
    },
    "fr": {
        "print_heading": "Votre numéro",
        "print_hint": "Scannez pour suivre votre tour sur votre téléphone",
        "print_again": "Réimprimer le n° {n}",
        "print_done": "Ticket n° {n} imprimé",
        "print_no_link": "Ticket n° {n} imprimé sans son QR code (l'agent a redémarré depuis)",
        "print_failed": (
            "L'imprimante ne répond pas : le ticket n° {n} n'est pas imprimé. Donnez le numéro."
        ),
        "print_busy": "L'imprimante est occupée : le ticket n° {n} n'est pas imprimé.",
        "manager_link": "Vue responsable",
    },
}
