"""The pages' words in French and English, and which language a visitor gets.

Placeholders are written ``{name}`` and filled the same way by the server (``fill``) and by the
pages' JavaScript, which receives the strings of its language as JSON.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

from agent.web.i18n_alerts import ALERT_STRINGS
from agent.web.i18n_staff import STAFF_ACTION_STRINGS
from agent.web.words_counter import COUNTER_STRINGS
from agent.web.words_live import LIVE_STRINGS
from agent.web.words_queue_extras import QUEUE_EXTRA_STRINGS

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "en"  # for a browser that asks for neither French nor English
LANG_COOKIE = "lang"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "lang_name": "English",
        "lang_switch": "Language",
        "skip": "Skip to content",
        "waiting_label": "People waiting",
        "wait_label": "Estimated wait",
        "wait_none": "No wait",
        "wait_upto": "up to {high}\u00a0min",
        "wait_about": "about {low}\u00a0min",
        "wait_range": "{low}–{high}\u00a0min",
        # join page
        "join_title": "Join the queue",
        "join_intro": "Take a ticket and wait where you like: "
        "this page tells you when it is your turn.",
        "name_label": "First name (optional)",
        "name_hint": "So we can greet you.",
        "party_label": "Number of people",
        "party_less": "One person fewer",
        "party_more": "One person more",
        "sms_consent": "Send me a text message when it is my turn",
        "sms_hint": "Your number is used only for this message and is deleted after your visit.",
        "phone_label": "Mobile number",
        "phone_hint": "For example +33 6 12 34 56 78",
        "join_button": "Join the queue",
        "joining": "Joining…",
        "err_expired": "This code has expired. Please scan the code in the shop window again.",
        "err_closed": "The store is closed right now, so the queue is not open. See you soon!",
        "err_full": "The queue is full right now. Please try again a little later.",
        "err_rate": "Too many tickets from this phone. Please wait a little and try again.",
        "err_phone": "Please check the mobile number (for example +33 6 12 34 56 78).",
        "err_network": "No connection. Please check your network and try again.",
        "err_generic": "Something went wrong. Please try again.",
        "closed_title": "The store is closed",
        "closed_body": "The queue opens with the store. See you soon!",
        "full_title": "The queue is full",
        "full_body": "Please come back in a few minutes.",
        "scan_title": "Please scan the code again",
        "scan_body": "This link has expired. "
        "Scan the code in the shop window again to join the queue.",
        # ticket page
        "ticket_title": "Your ticket",
        "number_label": "Your number",
        "position_label": "Your place",
        "ahead_0": "You are next!",
        "ahead_1": "1 person before you",
        "ahead_n": "{n} people before you",
        "keep_open": "Keep this page open: it updates by itself.",
        "state_waiting": "Waiting",
        "state_called": "It's your turn",
        "state_served": "Served",
        "state_no_show": "Missed",
        "state_left": "Left the queue",
        "leave_button": "Leave the queue",
        "leave_confirm": "Leave the queue? You will lose your place.",
        "leave_yes": "Yes, leave",
        "leave_no": "No, stay",
        "snooze_button": "I need a few more minutes",
        "snooze_done": "Noted: we moved you back a few places.",
        "turn_title": "It's your turn!",
        "turn_body": "Please go to the counter.",
        "turn_ok": "OK, I'm coming",
        "code_alt": "Your ticket's code",
        "code_hint": "At the counter, show this code to the camera: we'll know you're here.",
        "called_banner": "It's your turn: please go to the counter.",
        "final_served": "Thank you for your visit. See you soon!",
        "final_no_show": "We called you but did not see you. Please ask at the counter, "
        "or scan the code in the window to join again.",
        "final_left": "You have left the queue. See you soon!",
        "reconnecting": "Reconnecting…",
        "not_mine_title": "This ticket is not on this phone",
        "not_mine_body": "A ticket can only be followed on the phone that took it. "
        "To join the queue, scan the code in the shop window.",
        # window screen
        "scan_to_join": "Scan to join the queue",
        "waiting_short": "waiting",
        "closed_short": "Closed",
        "full_short": "Queue full",
        "store_full_short": "Store full: join the queue",
        "store_full_title": "The store is full right now",
        "store_full_body": "Join the queue: this page tells you when it is your turn to come in.",
        # staff tablet
        "staff_title": "Queues",
        "pair_title": "Pair this tablet",
        "pair_intro": "Ask the manager for a 6-digit pairing code (retail-edge pair).",
        "pair_code": "Pairing code (6 digits)",
        "pair_device": "Tablet name",
        "pair_button": "Pair",
        "pair_again": "This tablet is no longer paired. Please pair it again.",
        # window screen and boards (display devices, contract 8.1)
        "display_pair_title": "Pair this screen",
        "display_pair_intro": "Type the display pairing code (retail-edge pair --role display).",
        "display_pair_code": "Pairing code",
        "display_pair_error": "This code is wrong, used or expired.",
        "display_only_title": "This device is a display screen",
        "display_only_body": "It shows the window pages only. "
        "A tablet needs a staff pairing code (retail-edge pair).",
        "call_next": "Call next",
        "served": "Served",
        "no_show": "No-show",
        "recall": "Recall",
        "waiting_heading": "Waiting",
        "called_heading": "Called",
        "nobody_waiting": "Nobody is waiting.",
        "nobody_called": "Nobody called.",
        "late": "Late",
        "at_door": "At the door",
        "recalls": "recalled {n}×",
        "party": "{n}\u00a0pers.",
        "waited": "{n}\u00a0min",
        "no_name": "(no name)",
        "accuracy": "Estimates: off by {mae} min on average, {share}% too short ({n} tickets)",
        "accuracy_none": "Estimates: not enough data yet",
        "live": "Live",
        "arrival": "Arrival: {name}",
        "via": "via {via}",
        "take_it": "I'll take it",
        "taken": "Taken",
        "taken_by": "Taken by {by}",
        "alert_gone": "This alert is no longer available.",
        "dismiss": "Dismiss",
        "occupancy": "In store: {n}/{cap}",
        "occupancy_nocap": "In store: {n}",
        "hours_title": "Today, hour by hour",
        "hours_hour": "Hour",
        "hours_in": "In",
        "hours_out": "Out",
        "hours_joins": "Queue joins",
        "hours_conversion": "Joins per 100 entries",
        "hours_summary": "{entered} people came in today; {joins} joined a queue.",
        "hours_none": "No footfall counted yet today.",
        "loading": "Loading…",
        "storage_problem": "This device cannot save right now (disk full or failing): new "
        "tickets are refused. Tell the person in charge of the devices.",
        # errors
        "notfound_title": "Page not found",
        "notfound_body": "There is no queue here. Please scan the code in the shop window.",
    },
    "fr": {
        "lang_name": "Français",
        "lang_switch": "Langue",
        "skip": "Aller au contenu",
        "waiting_label": "Personnes en attente",
        "wait_label": "Attente estimée",
        "wait_none": "Pas d'attente",
        "wait_upto": "jusqu'à {high}\u00a0min",
        "wait_about": "environ {low}\u00a0min",
        "wait_range": "{low}–{high}\u00a0min",
        "join_title": "Rejoindre la file",
        "join_intro": "Prenez un ticket et attendez où vous voulez : cette page vous prévient "
        "quand c'est votre tour.",
        "name_label": "Prénom (facultatif)",
        "name_hint": "Pour que l'on puisse vous accueillir.",
        "party_label": "Nombre de personnes",
        "party_less": "Une personne de moins",
        "party_more": "Une personne de plus",
        "sms_consent": "M'envoyer un SMS quand c'est mon tour",
        "sms_hint": "Votre numéro sert uniquement à ce message et est effacé après votre visite.",
        "phone_label": "Numéro de mobile",
        "phone_hint": "Par exemple 06 12 34 56 78",
        "join_button": "Prendre un ticket",
        "joining": "Un instant…",
        "err_expired": "Ce code a expiré. Merci de scanner à nouveau le code affiché en vitrine.",
        "err_closed": "Le magasin est fermé pour le moment, la file n'est donc pas ouverte. "
        "À bientôt !",
        "err_full": "La file est complète pour le moment. Merci de réessayer un peu plus tard.",
        "err_rate": "Trop de tickets depuis ce téléphone. Merci de patienter un peu.",
        "err_phone": "Merci de vérifier le numéro de mobile (par exemple 06 12 34 56 78).",
        "err_network": "Pas de connexion. Vérifiez votre réseau et réessayez.",
        "err_generic": "Un problème est survenu. Merci de réessayer.",
        "closed_title": "Le magasin est fermé",
        "closed_body": "La file ouvre avec le magasin. À bientôt !",
        "full_title": "La file est complète",
        "full_body": "Merci de revenir dans quelques minutes.",
        "scan_title": "Merci de scanner à nouveau le code",
        "scan_body": "Ce lien a expiré. Scannez le code affiché en vitrine pour rejoindre la file.",
        "ticket_title": "Votre ticket",
        "number_label": "Votre numéro",
        "position_label": "Votre place",
        "ahead_0": "Vous êtes le prochain !",
        "ahead_1": "1 personne avant vous",
        "ahead_n": "{n} personnes avant vous",
        "keep_open": "Gardez cette page ouverte : elle se met à jour toute seule.",
        "state_waiting": "En attente",
        "state_called": "C'est votre tour",
        "state_served": "Servi",
        "state_no_show": "Absent",
        "state_left": "File quittée",
        "leave_button": "Quitter la file",
        "leave_confirm": "Quitter la file ? Vous perdrez votre place.",
        "leave_yes": "Oui, quitter",
        "leave_no": "Non, rester",
        "snooze_button": "J'ai besoin de quelques minutes de plus",
        "snooze_done": "C'est noté : nous vous avons reculé de quelques places.",
        "turn_title": "C'est votre tour !",
        "turn_body": "Merci de vous présenter au comptoir.",
        "turn_ok": "D'accord, j'arrive",
        "code_alt": "Le code de votre ticket",
        "code_hint": "Au comptoir, montrez ce code à la caméra : nous saurons que vous êtes là.",
        "called_banner": "C'est votre tour : merci de vous présenter au comptoir.",
        "final_served": "Merci de votre visite, à bientôt !",
        "final_no_show": "Nous vous avons appelé sans vous voir. Adressez-vous au comptoir, "
        "ou scannez le code en vitrine pour reprendre un ticket.",
        "final_left": "Vous avez quitté la file. À bientôt !",
        "reconnecting": "Reconnexion…",
        "not_mine_title": "Ce ticket n'est pas sur ce téléphone",
        "not_mine_body": "Un ticket ne peut être suivi que sur le téléphone qui l'a pris. "
        "Pour rejoindre la file, scannez le code affiché en vitrine.",
        "scan_to_join": "Scannez pour rejoindre la file",
        "waiting_short": "en attente",
        "closed_short": "Fermé",
        "full_short": "File complète",
        "store_full_short": "Magasin complet : rejoignez la file",
        "store_full_title": "Le magasin est complet pour le moment",
        "store_full_body": "Rejoignez la file : cette page vous dira quand entrer.",
        "staff_title": "Files d'attente",
        "pair_title": "Appairer cette tablette",
        "pair_intro": "Demandez au responsable un code d'appairage à 6 chiffres "
        "(retail-edge pair).",
        "pair_code": "Code d'appairage (6 chiffres)",
        "pair_device": "Nom de la tablette",
        "pair_button": "Appairer",
        "pair_again": "Cette tablette n'est plus appairée. Merci de l'appairer à nouveau.",
        "display_pair_title": "Appairer cet écran",
        "display_pair_intro": "Tapez le code d'appairage d'écran "
        "(retail-edge pair --role display).",
        "display_pair_code": "Code d'appairage",
        "display_pair_error": "Ce code est faux, déjà utilisé ou expiré.",
        "display_only_title": "Cet appareil est un écran d'affichage",
        "display_only_body": "Il n'affiche que les pages de vitrine. "
        "Une tablette a besoin d'un code d'appairage du personnel (retail-edge pair).",
        "call_next": "Appeler le suivant",
        "served": "Servi",
        "no_show": "Absent",
        "recall": "Rappeler",
        "waiting_heading": "En attente",
        "called_heading": "Appelés",
        "nobody_waiting": "Personne n'attend.",
        "nobody_called": "Personne n'est appelé.",
        "late": "En retard",
        "at_door": "À l'entrée",
        "recalls": "rappelé {n} fois",
        "party": "{n}\u00a0pers.",
        "waited": "{n}\u00a0min",
        "no_name": "(sans nom)",
        "accuracy": "Estimations : écart moyen {mae} min, {share} % trop courtes ({n} tickets)",
        "accuracy_none": "Estimations : pas encore assez de données",
        "live": "En direct",
        "arrival": "Arrivée : {name}",
        "via": "via {via}",
        "take_it": "Je m'en occupe",
        "taken": "Pris en charge",
        "alert_gone": "Cette alerte n'est plus disponible.",
        "taken_by": "Pris en charge par {by}",
        "dismiss": "Fermer",
        "occupancy": "En magasin : {n}/{cap}",
        "occupancy_nocap": "En magasin : {n}",
        "hours_title": "Aujourd'hui, heure par heure",
        "hours_hour": "Heure",
        "hours_in": "Entrées",
        "hours_out": "Sorties",
        "hours_joins": "Tickets pris",
        "hours_conversion": "Tickets pour 100 entrées",
        "hours_summary": "{entered} personnes sont entrées aujourd'hui ; "
        "{joins} ont pris un ticket.",
        "hours_none": "Aucun passage compté aujourd'hui.",
        "loading": "Chargement…",
        "storage_problem": "Cet appareil ne peut plus enregistrer (disque plein ou en panne) : "
        "les nouveaux tickets sont refusés. Prévenez le responsable des appareils.",
        "notfound_title": "Page introuvable",
        "notfound_body": "Il n'y a pas de file ici. Merci de scanner le code affiché en vitrine.",
    },
}


def french_spacing(text: str) -> str:
    """French typography: a no-break space before ! ? ; : and %, so they never start a line."""
    for mark, space in (("!", "\u202f"), ("?", "\u202f"), (";", "\u202f"), (":", "\u00a0")):
        text = text.replace(" " + mark, space + mark)
    return text.replace(" %", "\u00a0%")


for _locale, _words in (
    *LIVE_STRINGS.items(),
    *STAFF_ACTION_STRINGS.items(),
    *COUNTER_STRINGS.items(),
    *ALERT_STRINGS.items(),
    *QUEUE_EXTRA_STRINGS.items(),
):
    STRINGS[_locale].update(_words)
STRINGS["fr"] = {key: french_spacing(text) for key, text in STRINGS["fr"].items()}


def strings(locale: str) -> dict[str, str]:
    return STRINGS[locale if locale in STRINGS else DEFAULT_LOCALE]


def fill(text: str, **values: object) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def _from_accept_language(header: str) -> str | None:
    """The preferred of our languages in an Accept-Language header (q-values honoured)."""
    best: tuple[float, int, str] | None = None
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language not in LOCALES or not 0 < quality <= 1:
            continue
        candidate = (-quality, index, language)
        if best is None or candidate < best:
            best = candidate
    return None if best is None else best[2]


def choose_locale(
    query: str | None,
    cookie: str | None,
    accept_language: str | None,
    fallback: str | None = None,
) -> str:
    """?lang= wins, then the remembered choice, then ``fallback`` (a ticket's own language),
    then what the browser asks for."""
    for candidate in (query, cookie, fallback):
        if candidate in LOCALES:
            return str(candidate)
    return _from_accept_language(accept_language or "") or DEFAULT_LOCALE


def wait_text(locale: str, low_s: int, high_s: int) -> str:
    """A wait range in whole minutes, e.g. "12–20 min" (the JavaScript mirrors this)."""
    words = strings(locale)
    low = max(0, math.floor(low_s / 60))
    high = max(0, math.ceil(high_s / 60))
    if high <= 0:
        return words["wait_none"]
    if low <= 0:
        return fill(words["wait_upto"], high=high)
    if low >= high:
        return fill(words["wait_about"], low=low)
    return fill(words["wait_range"], low=low, high=high)


def ahead_text(locale: str, position: int) -> str:
    words = strings(locale)
    ahead = max(0, position - 1)
    if ahead == 0:
        return words["ahead_0"]
    if ahead == 1:
        return words["ahead_1"]
    return fill(words["ahead_n"], n=ahead)


ETA_ROUND_S = 300  # "around 15:40": a clock time rounded up to 5 minutes, not a promise


def eta_clock_text(locale: str, now: datetime, low_s: int, high_s: int, zone: str) -> str:
    """The middle of the wait range as a clock time in the store's zone, e.g. "around 15:40"
    ("" with no wait). The JavaScript mirrors this (common.js etaClock)."""
    if high_s <= 0:
        return ""
    at = now.timestamp() + (low_s + high_s) / 2
    rounded = math.ceil(at / ETA_ROUND_S) * ETA_ROUND_S
    local = datetime.fromtimestamp(rounded, ZoneInfo(zone))
    return fill(strings(locale)["eta_clock"], time=local.strftime("%H:%M"))
