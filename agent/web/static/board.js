/* "Now serving" board (a paired display in the store): the last numbers called per queue,
   live over Server-Sent Events; a chime on each new number and, when turned on, the number
   said in French then English. Both choices are remembered on this screen. */
"use strict";

(function () {
  var RE = window.RE;
  var body = document.body;
  var words = JSON.parse(body.dataset.strings || "{}");
  var seen = {}; /* queue|number|called_at already shown: only new ones chime */
  var first = true;
  var audio = null;
  var source = null;
  var SOUND_KEY = "re_board_sound";
  var SPEECH_KEY = "re_board_speech";
  var soundWanted = localStorage.getItem(SOUND_KEY) !== "0"; /* on unless turned off */
  var speechWanted = localStorage.getItem(SPEECH_KEY) === "1"; /* off unless turned on */
  var el = function (id) { return document.getElementById(id); };

  function both(key, values) {
    var french = RE.t("fr_" + key, values, words);
    var english = RE.t("en_" + key, values, words);
    return french === english ? french : french + " / " + english;
  }

  function status(text) {
    RE.setText(el("board-status"), text);
  }

  /* Browsers start audio only after a gesture on the page (unless the kiosk is launched
     with --autoplay-policy=no-user-gesture-required): any key or tap unlocks it. */
  function ensureAudio() {
    try {
      if (!audio) {
        var Context = window.AudioContext || window.webkitAudioContext;
        if (Context) audio = new Context();
      }
      if (audio && audio.state === "suspended") audio.resume().catch(function () {});
    } catch (e) {
      audio = null;
    }
    return audio;
  }

  function chime() {
    var context = ensureAudio();
    if (!context) return;
    if (context.state !== "running") {
      status(both("board_sound_blocked"));
      return;
    }
    var now = context.currentTime;
    [659.25, 880].forEach(function (frequency, index) {
      var tone = context.createOscillator();
      var gain = context.createGain();
      var start = now + index * 0.35;
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.4, start + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.9);
      tone.connect(gain);
      gain.connect(context.destination);
      tone.start(start);
      tone.stop(start + 0.95);
    });
  }

  function say(item) {
    if (!speechWanted || !("speechSynthesis" in window)) return;
    var values = { number: item.number, counter: item.counter || "" };
    var key = item.counter ? "board_say_counter" : "board_say";
    [["fr", "fr-FR"], ["en", "en-GB"]].forEach(function (pair) {
      var utterance = new window.SpeechSynthesisUtterance(RE.t(pair[0] + "_" + key, values, words));
      utterance.lang = pair[1];
      window.speechSynthesis.speak(utterance);
    });
  }

  function counterText(counter) {
    return counter ? both("board_counter", { counter: counter }) : "";
  }

  function render(board) {
    var fresh = [];
    (board.queues || []).forEach(function (row) {
      var column = document.querySelector('.board-queue[data-queue="' + CSS.escape(row.queue) + '"]');
      if (!column) return;
      var serving = row.serving || [];
      var now = serving[0];
      RE.setText(column.querySelector('[data-role="now"]'), now ? String(now.number) : "–");
      column.classList.toggle("is-empty", !now);
      RE.setText(column.querySelector('[data-role="counter"]'), now ? counterText(now.counter) : "");
      var history = column.querySelector('[data-role="history"]');
      var items = serving.slice(1).map(function (item) {
        var li = document.createElement("li");
        li.textContent = String(item.number);
        return li;
      });
      history.replaceChildren.apply(history, items);
      serving.forEach(function (item) {
        var key = row.queue + "|" + item.number + "|" + item.called_at;
        if (!seen[key]) {
          seen[key] = true;
          if (!first) fresh.push({ item: item, column: column });
        }
      });
    });
    first = false;
    /* The newest call first: that is the number people are looking for. */
    fresh.sort(function (a, b) { return a.item.called_at < b.item.called_at ? 1 : -1; });
    if (fresh.length) {
      fresh.forEach(function (entry) {
        entry.column.classList.remove("is-new");
        void entry.column.offsetWidth; /* restart the highlight */
        entry.column.classList.add("is-new");
        /* The highlight lasts as long as its animation (3 pulses; a steady outline where
           motion is reduced), then the column looks as before until the next call. */
        window.clearTimeout(entry.column.reNewTimer);
        entry.column.reNewTimer = window.setTimeout(function () {
          entry.column.classList.remove("is-new");
        }, 3600);
      });
      if (soundWanted) chime();
      fresh.forEach(function (entry) { say(entry.item); });
    }
  }

  function connect() {
    source = new EventSource("/api/v1/board/stream");
    source.addEventListener("board", function (event) {
      try {
        render(JSON.parse(event.data));
      } catch (e) {
        /* a malformed frame: the next one will do */
      }
    });
    source.addEventListener("error", function () {
      /* Refused (revoked, 401): EventSource gives up; reload to show the pairing form. */
      if (source.readyState === EventSource.CLOSED) {
        window.setTimeout(function () { window.location.reload(); }, 3000);
      }
    });
  }

  function showToggles() {
    el("board-sound").setAttribute("aria-pressed", soundWanted ? "true" : "false");
    el("board-speech").setAttribute("aria-pressed", speechWanted ? "true" : "false");
    el("board-speech").hidden = !("speechSynthesis" in window);
  }

  el("board-sound").addEventListener("click", function () {
    soundWanted = !soundWanted;
    localStorage.setItem(SOUND_KEY, soundWanted ? "1" : "0");
    if (soundWanted) ensureAudio();
    showToggles();
    status(both(soundWanted ? "board_sound_on" : "board_sound_off"));
  });
  el("board-speech").addEventListener("click", function () {
    speechWanted = !speechWanted;
    localStorage.setItem(SPEECH_KEY, speechWanted ? "1" : "0");
    showToggles();
    status(both(speechWanted ? "board_speech_on" : "board_speech_off"));
  });
  document.addEventListener("keydown", ensureAudio);
  document.addEventListener("pointerdown", ensureAudio, { passive: true });

  function clockText(now) {
    try {
      return now.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit", timeZone: body.dataset.zone });
    } catch (e) {
      return now.toLocaleTimeString("fr-FR", { hour: "2-digit", minute: "2-digit" });
    }
  }

  function tick() {
    var now = new Date();
    RE.setText(el("board-clock"), clockText(now));
  }

  showToggles();
  tick();
  window.setInterval(tick, 10000);
  render(JSON.parse(body.dataset.board || "{}"));
  connect();
})();
