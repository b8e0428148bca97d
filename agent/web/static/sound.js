/* Sound and screen for the ticket page: the "your turn" beep, told plainly whether it can
   play, and Screen Wake Lock while waiting (with a toggle).

   Browsers play sound only after a gesture. The join page's button plays a silent sound in
   its own click (join.js), and Chrome carries that permission to the same-site page it opens,
   so the ticket page's audio starts running by itself there. Safari on iPhone does not: a new
   page needs a tap again, so the page says so and shows one "Turn on sound" button while the
   audio is suspended. A phone in silent mode plays nothing from a web page, and no page can
   tell: the status says so too. */
"use strict";

(function () {
  var RE = window.RE;
  var el = function (id) { return document.getElementById(id); };
  var Context = window.AudioContext || window.webkitAudioContext;
  var audio = null;
  var active = true;
  var WAKE_KEY = "re_wake";
  var wakeLock = null;
  var wakeAsking = false; /* one request at a time: two would hold two locks */

  function showSound() {
    var button = el("sound-on");
    if (!active) {
      el("sound-row").hidden = true;
      return;
    }
    el("sound-row").hidden = false;
    if (!audio) {
      button.hidden = true;
      RE.setText(el("sound-status"), RE.t("sound_none"));
    } else if (audio.state === "running") {
      button.hidden = true;
      RE.setText(el("sound-status"), RE.t("sound_on"));
    } else {
      button.hidden = false;
      RE.setText(el("sound-status"), RE.t("sound_locked"));
    }
    document.body.dataset.sound = audio ? audio.state : "none";
  }

  function start() {
    try {
      if (Context && !audio) {
        audio = new Context();
        audio.addEventListener("statechange", showSound);
        /* The join tap played a silent sound (join.js): where the browser carries that
           permission to this page, resuming now is allowed. */
        if (audio.state === "suspended" && window.sessionStorage.getItem("re_sound_unlocked")) {
          audio.resume().catch(function () {});
        }
      }
    } catch (e) {
      audio = null;
    }
    showSound();
  }

  /* Any tap on the page is a gesture too: resume quietly if the audio is still suspended. */
  function resume() {
    if (audio && audio.state === "suspended") {
      audio.resume().then(showSound).catch(function () {});
    }
  }
  document.addEventListener("pointerdown", resume, { passive: true });
  document.addEventListener("keydown", resume);

  function tone(frequency, at, length, level) {
    var now = audio.currentTime + at;
    var osc = audio.createOscillator();
    var gain = audio.createGain();
    osc.type = "sine";
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(level, now + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + length);
    osc.connect(gain);
    gain.connect(audio.destination);
    osc.start(now);
    osc.stop(now + length + 0.05);
  }

  function beep() {
    try {
      resume();
      if (!audio) return;
      tone(880, 0, 0.6, 0.3);
      tone(880, 0.8, 0.6, 0.3);
    } catch (e) {
      /* no sound on this device: the overlay and vibration still say it */
    }
  }

  el("sound-on").addEventListener("click", function () {
    if (!audio) start();
    if (!audio) return;
    audio.resume().then(function () {
      tone(660, 0, 0.25, 0.2); /* a short note: what the customer will hear, quieter */
      showSound();
    }).catch(showSound);
  });

  /* --- Screen Wake Lock ------------------------------------------------------------------ */

  function wakeWanted() {
    return localStorage.getItem(WAKE_KEY) !== "0";
  }

  function holdScreen() {
    if (!("wakeLock" in navigator) || !active || !wakeWanted() || wakeLock || wakeAsking) return;
    if (document.visibilityState !== "visible") return;
    wakeAsking = true;
    navigator.wakeLock.request("screen").then(function (lock) {
      wakeAsking = false;
      if (!active || !wakeWanted()) {
        lock.release().catch(function () {}); /* turned off (or ended) meanwhile */
        return;
      }
      wakeLock = lock;
      RE.setText(el("wake-status"), "");
      /* The browser drops the lock when the page is hidden; it is asked again on return. */
      lock.addEventListener("release", function () { wakeLock = null; });
    }).catch(function () {
      wakeAsking = false;
      RE.setText(el("wake-status"), RE.t("wake_failed"));
    });
  }

  function releaseScreen() {
    if (wakeLock) {
      wakeLock.release().catch(function () {});
      wakeLock = null;
    }
  }

  function showWake() {
    el("wake-row").hidden = !("wakeLock" in navigator) || !active;
    el("wake").checked = wakeWanted();
    if (active && wakeWanted()) holdScreen();
    else releaseScreen();
  }

  el("wake").addEventListener("change", function () {
    localStorage.setItem(WAKE_KEY, el("wake").checked ? "1" : "0");
    RE.setText(el("wake-status"), "");
    showWake();
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") holdScreen();
  });

  window.RESound = {
    beep: beep,
    /* Waiting or called: sound and screen matter; after that, both are let go. */
    setActive: function (value) {
      active = value;
      showSound();
      showWake();
    },
  };
  start();
  showWake();
})();
