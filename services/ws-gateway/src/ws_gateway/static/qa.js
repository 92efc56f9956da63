// Zephyr participant page, the Q&A board: ask a question, upvote the others' (docs/qa.md).
// app.js hands this module its frames (`qa`, `asked`, `upvoted`, and errors while a request of
// ours is waiting) and a send function. The board section shows only once a `qa` frame came:
// the gateway sends one after `joined` when the poll has a board.
// User text is only ever set with textContent.
"use strict";

(function () {
  const MIN_CHARS = 2;
  const MAX_CHARS = 300;
  // Errors that answer an ask or an upvote (claimed only while one of ours is waiting).
  const OUR_ERRORS = new Set([
    "invalid_frame", "rate_limited", "unavailable", "qa_disabled", "unknown_item", "own_item",
    "not_joined", "overloaded",
  ]);
  const state = {
    send: null,
    room: () => "",
    loaded: false,
    pending: null,
    version: -1,
    items: [],
    mine: new Set(),
    ups: new Set(),
  };
  const $ = (id) => document.getElementById(id);

  function storageKey() {
    return "zephyr-qa:" + state.room();
  }

  function load() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(storageKey()) || "{}");
      state.mine = new Set(Array.isArray(saved.mine) ? saved.mine : []);
      state.ups = new Set(Array.isArray(saved.ups) ? saved.ups : []);
    } catch (_) {
      state.mine = new Set();
      state.ups = new Set();
    }
  }

  function save() {
    try {
      const saved = { mine: Array.from(state.mine), ups: Array.from(state.ups) };
      window.localStorage.setItem(storageKey(), JSON.stringify(saved));
    } catch (_) {
      // Private browsing: the board still works, it just forgets which items were ours.
    }
  }

  function note(text) {
    $("qa-note").textContent = text;
  }

  function onAsk(event) {
    event.preventDefault();
    const input = $("qa-text");
    const text = input.value.trim();
    if (text.length < MIN_CHARS || text.length > MAX_CHARS) {
      note("A question is " + MIN_CHARS + " to " + MAX_CHARS + " characters.");
      return;
    }
    if (state.pending) {
      return;
    }
    state.pending = { type: "ask" };
    if (!state.send({ type: "ask", text: text })) {
      state.pending = null;
      note("Not connected: try again in a moment.");
      return;
    }
    note("Sending…");
  }

  function onUpvote(item) {
    if (state.pending) {
      return;
    }
    const up = !state.ups.has(item);
    state.pending = { type: "upvote", item: item, up: up };
    if (!state.send({ type: "upvote", item: item, up: up })) {
      state.pending = null;
      note("Not connected: try again in a moment.");
    }
  }

  function onFrame(frame) {
    if (!state.loaded) {
      load(); // the room is known once frames come
      state.loaded = true;
    }
    if (frame.type === "qa") {
      if (typeof frame.version === "number" && frame.version >= state.version) {
        state.version = frame.version;
        state.items = Array.isArray(frame.items) ? frame.items : [];
      }
      $("qa-view").hidden = false;
    } else if (frame.type === "asked") {
      state.pending = null;
      state.mine.add(frame.item);
      $("qa-text").value = "";
      note(frame.status === "pending" ? "Sent: it appears once the host approves it." : "Sent.");
    } else if (frame.type === "upvoted") {
      state.pending = null;
      if (frame.up) {
        state.ups.add(frame.item);
      } else {
        state.ups.delete(frame.item);
      }
      note("");
    }
    save();
    render();
  }

  /** True when the error answers a request of ours (then app.js leaves it alone). */
  function onError(frame) {
    if (!state.pending || !OUR_ERRORS.has(frame.code)) {
      return false;
    }
    state.pending = null;
    note("Not sent: " + (typeof frame.message === "string" ? frame.message : "please retry"));
    render();
    return true;
  }

  function render() {
    const list = $("qa-items");
    list.replaceChildren();
    for (const item of state.items) {
      const li = document.createElement("li");
      li.className = "qa-item";
      li.dataset.status = item.status;
      li.dataset.item = item.id;
      const text = document.createElement("span");
      text.className = "qa-text";
      text.textContent = item.text;
      const badges = document.createElement("span");
      badges.className = "qa-badges";
      badges.textContent = (item.pinned ? "Pinned " : "") + (item.status === "answered" ? "Answered" : "");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "qa-upvote";
      const mine = state.mine.has(item.id);
      const upped = state.ups.has(item.id);
      button.disabled = mine || Boolean(state.pending);
      button.setAttribute("aria-pressed", upped ? "true" : "false");
      button.textContent = "▲ " + item.score;
      button.title = mine ? "Your question" : upped ? "Take back your upvote" : "Upvote";
      button.addEventListener("click", () => onUpvote(item.id));
      li.append(button, text, badges);
      list.append(li);
    }
    $("qa-empty").hidden = state.items.length > 0;
  }

  function init(options) {
    state.send = options.send;
    state.room = options.room;
    $("qa-form").addEventListener("submit", onAsk);
  }

  window.ZephyrQa = { init: init, onFrame: onFrame, onError: onError };
})();
