"""The words of the live parts of the pages, in English and French: Web Push and "almost
your turn" (contract 8.6), the ticket page's "now serving" line, clock-time estimate, sound
and screen wake lock, the join page at capacity and party size, and the "now serving" board.

Kept apart from i18n.py only to keep each module short; i18n.py merges them into its tables
(French typography is applied there to both)."""

from __future__ import annotations

LIVE_STRINGS: dict[str, dict[str, str]] = {
    "en": {
        # Web Push and "almost your turn" (contract 8.6)
        "push_offer": "Get a notification when it's almost your turn, even with this page closed.",
        "push_button": "Notify me",
        "push_working": "Turning notifications on…",
        "push_on": "Notifications are on: we will tell you even if this page is closed.",
        "push_denied": "Notifications are blocked for this site. "
        "You can allow them in your browser's settings.",
        "push_failed": "Notifications could not be turned on in this browser. "
        "Please keep this page open instead.",
        "approaching_line": "Almost your turn! Please come back to the store now.",
        "push_approaching_title": "Almost your turn ({queue})",
        "push_approaching_body": "Number {number}: please come back to the store now.",
        "push_called_title": "It's your turn! Number {number}",
        "push_called_body": "Please go to the counter.",
        "push_recalled_title": "Reminder: it's your turn! Number {number}",
        "push_recalled_body": "We are calling you again: please go to the counter now.",
        # ticket page: now serving, clock time, counter, sound, screen
        "serving_label": "Now serving",
        "serving_none": "No number called yet",
        "eta_clock": "around {time}",
        "counter_line": "Go to counter {counter}",
        "sound_on": "Sound is on: your phone will ring when it's your turn (not in silent mode).",
        "sound_locked": "This browser plays sound only after a tap on this page. "
        "Tap the button to hear your turn.",
        "sound_button": "Turn on sound",
        "sound_none": "This browser cannot play sound: watch the screen, or turn on notifications.",
        "wake_label": "Keep the screen on while I wait",
        "wake_failed": "The screen could not be kept on (battery saver?).",
        # join page: what each queue is for, the store at capacity, party size
        "store_full_entry_body": "Joining this queue is how to get in: "
        "this page tells you when to come in.",
        "store_full_other_body": "To get in, join the queue “{entry}” first. "
        "This queue is for {label}, once you are inside.",
        "store_full_other_link": "Join “{entry}” to get in",
        "store_full_noentry_body": "People are let in as others leave. "
        "You can still take a ticket for this queue now.",
        "party_error": "Please enter a number of people from 1 to 20.",
        # the "now serving" board (a display screen, in both languages at once)
        "board_title": "Now serving",
        "board_counter": "Counter {counter}",
        "board_say": "Number {number}",
        "board_say_counter": "Number {number}, counter {counter}",
        "board_sound_label": "Chime",
        "board_speech_label": "Say the numbers",
        "board_sound_on": "Chime on",
        "board_sound_off": "Chime off",
        "board_sound_blocked": "Sound is blocked by the browser until someone "
        "presses a key or taps the screen once.",
        "board_speech_on": "Numbers are said aloud",
        "board_speech_off": "Numbers are not said aloud",
        "board_none": "No number yet",
    },
    "fr": {
        # Web Push et « bientôt votre tour » (contrat 8.6)
        "push_offer": "Recevez une notification quand votre tour approche, même page fermée.",
        "push_button": "Me prévenir",
        "push_working": "Activation des notifications…",
        "push_on": "Notifications activées : nous vous prévenons même si cette page est fermée.",
        "push_denied": "Les notifications sont bloquées pour ce site. "
        "Vous pouvez les autoriser dans les réglages du navigateur.",
        "push_failed": "Impossible d'activer les notifications sur ce navigateur. "
        "Gardez plutôt cette page ouverte.",
        "approaching_line": "C'est bientôt votre tour ! "
        "Merci de revenir au magasin dès maintenant.",
        "push_approaching_title": "Bientôt votre tour ({queue})",
        "push_approaching_body": "Numéro {number} : merci de revenir au magasin dès maintenant.",
        "push_called_title": "C'est votre tour ! Numéro {number}",
        "push_called_body": "Merci de vous présenter au comptoir.",
        "push_recalled_title": "Rappel : c'est votre tour ! Numéro {number}",
        "push_recalled_body": "Nous vous appelons de nouveau : "
        "merci de vous présenter au comptoir.",
        "serving_label": "Numéro appelé",
        "serving_none": "Aucun numéro appelé pour l'instant",
        "eta_clock": "vers {time}",
        "counter_line": "Allez au guichet {counter}",
        "sound_on": "Le son est activé : votre téléphone sonnera quand ce sera votre tour "
        "(sauf en mode silencieux).",
        "sound_locked": "Ce navigateur ne joue un son qu'après un appui sur cette page. "
        "Appuyez sur le bouton pour entendre votre tour.",
        "sound_button": "Activer le son",
        "sound_none": "Ce navigateur ne peut pas jouer de son : gardez un œil sur l'écran, "
        "ou activez les notifications.",
        "wake_label": "Garder l'écran allumé pendant l'attente",
        "wake_failed": "Impossible de garder l'écran allumé (économie d'énergie ?).",
        "store_full_entry_body": "Rejoindre cette file, c'est la façon d'entrer : "
        "cette page vous dira quand entrer.",
        "store_full_other_body": "Pour entrer, rejoignez d'abord la file « {entry} ». "
        "Cette file-ci est pour {label}, une fois à l'intérieur.",
        "store_full_other_link": "Rejoindre « {entry} » pour entrer",
        "store_full_noentry_body": "Les clients entrent à mesure que d'autres sortent. "
        "Vous pouvez déjà prendre un ticket pour cette file.",
        "party_error": "Indiquez un nombre de personnes entre 1 et 20.",
        "board_title": "Numéros appelés",
        "board_counter": "Guichet {counter}",
        "board_say": "Numéro {number}",
        "board_say_counter": "Numéro {number}, guichet {counter}",
        "board_sound_label": "Carillon",
        "board_speech_label": "Annoncer les numéros",
        "board_sound_on": "Carillon activé",
        "board_sound_off": "Carillon coupé",
        "board_sound_blocked": "Le navigateur bloque le son tant que personne n'a appuyé "
        "sur une touche ou sur l'écran.",
        "board_speech_on": "Les numéros sont annoncés",
        "board_speech_off": "Les numéros ne sont pas annoncés",
        "board_none": "Aucun numéro pour l'instant",
    },
}
