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
        "manager_link": "Report",
        "manager_title": "Manager view",
        "manager_period": "Period",
        "manager_days": "Last {n} days",
        "manager_csv": "Download CSV",
        "manager_back": "Queues",
        "manager_range": "{first} to {last} ({zone}), from this agent's own data",
        "manager_heatmap": "Entries by hour of the week",
        "manager_waits": "Median wait per day (minutes)",
        "manager_accuracy": "Waits within the estimate given at join (%)",
        "manager_customers": "Recognised customers per day: new and returning",
        "manager_new": "new",
        "manager_returning": "returning",
        "manager_entries": "Entries",
        "manager_joins": "Joins",
        "manager_joins_per_100": "Joins per 100 entries",
        "manager_median_wait": "Median wait",
        "manager_within": "Within estimate",
        "manager_no_show": "No-show",
        "manager_walkout": "Walked out",
        "manager_left": "Left",
        "manager_new_returning": "New / returning",
        "manager_none": "–",
        "manager_weekdays": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
        "manager_only_title": "Manager tablets only",
        "manager_only_body": (
            "Pair this tablet with retail-edge pair --role manager to see the report."
        ),
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
        "manager_link": "Rapport",
        "manager_title": "Vue responsable",
        "manager_period": "Période",
        "manager_days": "{n} derniers jours",
        "manager_csv": "Télécharger le CSV",
        "manager_back": "Files",
        "manager_range": "Du {first} au {last} ({zone}), d'après les données de cet agent",
        "manager_heatmap": "Entrées par heure de la semaine",
        "manager_waits": "Attente médiane par jour (minutes)",
        "manager_accuracy": "Attentes dans l'estimation donnée à l'inscription (%)",
        "manager_customers": "Clients reconnus par jour : nouveaux et habitués",
        "manager_new": "nouveaux",
        "manager_returning": "habitués",
        "manager_entries": "Entrées",
        "manager_joins": "Inscriptions",
        "manager_joins_per_100": "Inscriptions pour 100 entrées",
        "manager_median_wait": "Attente médiane",
        "manager_within": "Dans l'estimation",
        "manager_no_show": "Absents",
        "manager_walkout": "Partis du magasin",
        "manager_left": "Sortis de la file",
        "manager_new_returning": "Nouveaux / habitués",
        "manager_none": "–",
        "manager_weekdays": "lun,mar,mer,jeu,ven,sam,dim",
        "manager_only_title": "Réservé aux tablettes responsables",
        "manager_only_body": (
            "Appairez cette tablette avec retail-edge pair --role manager pour voir le rapport."
        ),
    },
}
