// Zephyr participant page: join a room, vote with one tap, watch the results live.
// Plain JavaScript, no build step. User text is only ever set with textContent.
"use strict";

(function () {
  const ROOM_RE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/;
  const STORE_PREFIX = "zephyr.participant.";
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const PING_EVERY_MS = 25000;
  const PONG_WITHIN_MS = 10000;
  const STATUS_TEXT = {
    draft: "Waiting for the host to open the poll",
    open: "Voting is open",
    closed: "Voting is closed",
  };

  const $ = (id) => document.getElementById(id);
  const ui = {
    connection: $("connection"),
    joinView: $("join-view"),
    joinForm: $("join-form"),
    roomInput: $("room-code"),
    nickInput: $("nickname"),
    joinButton: $("join-button"),
    joinError: $("join-error"),
    pollView: $("poll-view"),
    pollRoom: $("poll-room"),
    me: $("me"),
    leave: $("leave"),
    status: $("poll-status"),
    question: $("question"),
    legend: $("options-legend"),
    options: $("options"),
    voteNote: $("vote-note"),
    results: $("results"),
    resultsTotal: $("results-total"),
    bars: $("bars"),
    resultsHidden: $("results-hidden"),
  };

  const state = {
    room: null,
    nickname: null,
    token: null,
    ws: null,
    wanted: false, // we want to be connected (false after leaving or a fatal error)
    joined: false,
    everJoined: false,
    poll: null,
    tally: null,
    myVote: null,
    pending: null, // {option, clientVoteId, epoch}: a vote sent but not yet accepted
    attempt: 0,
    retryTimer: null,
    retryAt: 0,
    countdownTimer: null,
    pingTimer: null,
    pongTimer: null,
    optionsKey: null,
  };

  // ---- storage (the resume token per room, so a reload keeps the identity) -------------

  function readIdentity(room) {
    try {
      const raw = window.localStorage.getItem(STORE_PREFIX + room);
      const value = raw ? JSON.parse(raw) : null;
      if (value && typeof value.nickname === "string" && typeof value.resume_token === "string") {
        return value;
      }
    } catch (e) {
      // Storage may be unavailable (private mode) or hold junk: act as if nothing is stored.
    }
    return null;
  }

  function saveIdentity(room, nickname, token) {
    try {
      window.localStorage.setItem(
        STORE_PREFIX + room,
        JSON.stringify({ nickname: nickname, resume_token: token })
      );
    } catch (e) {
      // Without storage a reload asks for the nickname again; nothing else changes.
    }
  }

  function forgetIdentity(room) {
    try {
      window.localStorage.removeItem(STORE_PREFIX + room);
    } catch (e) {
      // nothing stored, nothing to forget
    }
  }

  // ---- small helpers ----------------------------------------------------------------------

  function roomFromPath() {
    const match = window.location.pathname.match(/^\/(?:join\/)?([A-Za-z0-9]{6})\/?$/);
    return match ? match[1].toUpperCase() : null;
  }

  function newClientVoteId() {
    // crypto.getRandomValues works on plain http too (randomUUID needs a secure context).
    const bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return "v-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function percent(count, total) {
    return total > 0 ? Math.round((100 * count) / total) : 0;
  }

  function send(frame) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify(frame));
      return true;
    }
    return false;
  }

  function setConnection(kind, text) {
    ui.connection.dataset.state = kind;
    ui.connection.textContent = text;
  }

  // ---- connection -------------------------------------------------------------------------

  function connect() {
    clearRetry();
    if (!state.wanted || state.ws) {
      return;
    }
    if (state.everJoined) {
      setConnection("reconnecting", "Reconnecting…");
    } else {
      setConnection("connecting", "Connecting…");
    }
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(
      scheme + "//" + window.location.host + "/ws/" + encodeURIComponent(state.room)
    );
    state.ws = ws;
    ws.addEventListener("open", () => {
      const frame = { type: "join", nickname: state.nickname };
      if (state.token) {
        frame.resume_token = state.token;
      }
      send(frame);
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch (e) {
        return; // the gateway only sends JSON; ignore anything else
      }
      handleFrame(frame);
    });
    ws.addEventListener("close", (event) => onClosed(ws, event));
  }

  function onClosed(ws, event) {
    if (state.ws !== ws) {
      return;
    }
    state.ws = null;
    state.joined = false;
    stopPing();
    if (event.code === 4404) {
      fatal("No poll has the room code " + state.room + ".");
      return;
    }
    if (state.wanted) {
      scheduleReconnect();
    }
  }

  function scheduleReconnect() {
    // Exponential backoff with jitter: a whole room whose gateway restarted must not come
    // back in the same millisecond.
    state.attempt += 1;
    const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (state.attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    state.retryAt = Date.now() + delay;
    state.retryTimer = window.setTimeout(connect, delay);
    showRetryCountdown();
    state.countdownTimer = window.setInterval(showRetryCountdown, 1000);
    render();
  }

  function showRetryCountdown() {
    const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    const label = state.everJoined ? "Reconnecting…" : "Cannot reach the poll.";
    setConnection("reconnecting", label + " Retrying in " + seconds + " s.");
  }

  function clearRetry() {
    window.clearTimeout(state.retryTimer);
    window.clearInterval(state.countdownTimer);
    state.retryTimer = null;
    state.countdownTimer = null;
  }

  function retryNow() {
    if (state.wanted && !state.ws && state.retryTimer !== null) {
      connect();
    }
  }

  function startPing() {
    stopPing();
    state.pingTimer = window.setInterval(() => {
      if (!send({ type: "ping" })) {
        return;
      }
      window.clearTimeout(state.pongTimer);
      // A connection that no longer answers is dead even if the browser has not noticed.
      state.pongTimer = window.setTimeout(() => {
        if (state.ws) {
          state.ws.close();
        }
      }, PONG_WITHIN_MS);
    }, PING_EVERY_MS);
  }

  function stopPing() {
    window.clearInterval(state.pingTimer);
    window.clearTimeout(state.pongTimer);
  }

  function disconnect() {
    state.wanted = false;
    clearRetry();
    stopPing();
    const ws = state.ws;
    state.ws = null;
    state.joined = false;
    if (ws) {
      ws.close(1000, "leaving");
    }
  }

  function fatal(message) {
    // The identity or the room is not usable: back to the form, with the reason.
    disconnect();
    state.token = null;
    state.everJoined = false;
    setConnection("idle", "");
    showJoinForm(message);
  }

  // ---- frames from the gateway -----------------------------------------------------------

  function handleFrame(frame) {
    switch (frame.type) {
      case "joined":
        onJoined(frame);
        break;
      case "vote_accepted":
        onVoteAccepted(frame);
        break;
      case "tally":
        state.tally = { counts: frame.counts, total: frame.total, version: frame.version };
        renderResults();
        break;
      case "poll_state":
        onPollState(frame);
        break;
      case "error":
        onError(frame);
        break;
      case "pong":
        window.clearTimeout(state.pongTimer);
        break;
      default:
        break;
    }
  }

  function onJoined(frame) {
    const firstJoin = !state.everJoined;
    state.joined = true;
    state.everJoined = true;
    state.attempt = 0;
    state.nickname = frame.nickname;
    state.token = frame.resume_token;
    saveIdentity(state.room, frame.nickname, frame.resume_token);
    state.poll = frame.poll;
    state.tally = frame.tally;
    state.myVote = frame.my_vote;
    setConnection("connected", "Connected");
    startPing();
    showPollView();
    // A vote tapped while the connection was down goes out now, under its first id, so it
    // counts once even if the first attempt did reach the gateway.
    const pending = state.pending;
    if (pending && pending.epoch === state.poll.epoch && state.poll.status === "open") {
      send({ type: "vote", option: pending.option, client_vote_id: pending.clientVoteId });
    } else {
      state.pending = null;
    }
    render();
    if (firstJoin) {
      ui.question.focus();
    }
  }

  function onVoteAccepted(frame) {
    if (state.pending && state.pending.clientVoteId === frame.client_vote_id) {
      state.pending = null;
    }
    state.myVote = frame.option;
    const text = state.poll ? state.poll.options[frame.option] : "";
    ui.voteNote.textContent = "Your vote for “" + text + "” is counted.";
    render();
  }

  function onPollState(frame) {
    if (!state.poll) {
      return;
    }
    if (frame.epoch !== state.poll.epoch) {
      // A reset: every vote of the old round is gone, including ours.
      state.myVote = null;
      state.pending = null;
      state.tally = null;
      ui.voteNote.textContent = "The host started the poll again: your vote was cleared.";
    }
    state.poll = Object.assign({}, state.poll, {
      status: frame.status,
      revealed: frame.revealed,
      epoch: frame.epoch,
    });
    if (frame.status !== "open" && state.pending) {
      state.pending = null;
      ui.voteNote.textContent = "Voting closed before your vote went through.";
    }
    render();
  }

  function onError(frame) {
    const message = typeof frame.message === "string" ? frame.message : "something went wrong";
    switch (frame.code) {
      case "nickname_taken":
        forgetIdentity(state.room);
        fatal("That nickname is taken in this room: choose another.");
        break;
      case "invalid_token":
        // The stored identity is not valid here (another poll, or a new server secret):
        // join afresh under the same nickname on this same connection.
        forgetIdentity(state.room);
        state.token = null;
        send({ type: "join", nickname: state.nickname });
        break;
      case "unknown_poll":
        forgetIdentity(state.room);
        fatal("No poll has the room code " + state.room + ".");
        break;
      case "poll_closed":
        state.pending = null;
        ui.voteNote.textContent = "Voting is closed: that vote was not counted.";
        render();
        break;
      case "rate_limited":
      case "overloaded":
      case "unavailable":
        retryAfterError(frame);
        break;
      default:
        if (!state.joined) {
          // The join was refused (e.g. a nickname the server does not accept): say why.
          forgetIdentity(state.room);
          fatal("Cannot join: " + message);
          break;
        }
        ui.voteNote.textContent = "Not sent: " + message;
        state.pending = null;
        render();
        break;
    }
  }

  function retryAfterError(frame) {
    const waitMs = Math.max(1, Number(frame.retry_after) || 1) * 1000;
    if (!state.joined) {
      // The join itself failed for now: reconnect with backoff.
      if (state.ws) {
        state.ws.close();
      }
      return;
    }
    const pending = state.pending;
    if (!pending) {
      return;
    }
    ui.voteNote.textContent = "Busy; sending your vote again in a moment…";
    window.setTimeout(() => {
      if (state.pending === pending && state.joined) {
        send({ type: "vote", option: pending.option, client_vote_id: pending.clientVoteId });
      }
    }, waitMs);
  }

  // ---- user actions -----------------------------------------------------------------------

  function vote(option) {
    const poll = state.poll;
    if (!poll || poll.status !== "open") {
      return;
    }
    if (state.pending && state.pending.option === option) {
      return;
    }
    if (!state.pending && state.myVote === option) {
      ui.voteNote.textContent = "That is already your vote.";
      return;
    }
    state.pending = { option: option, clientVoteId: newClientVoteId(), epoch: poll.epoch };
    const sent =
      state.joined &&
      send({ type: "vote", option: option, client_vote_id: state.pending.clientVoteId });
    ui.voteNote.textContent = sent
      ? "Sending your vote…"
      : "Your vote will be sent when the connection is back.";
    render();
  }

  function onJoinSubmit(event) {
    event.preventDefault();
    const room = ui.roomInput.value.trim().toUpperCase();
    const nickname = ui.nickInput.value.trim();
    if (!ROOM_RE.test(room)) {
      showJoinError("Enter the six-character room code.", ui.roomInput);
      return;
    }
    if (!nickname) {
      showJoinError("Enter a nickname.", ui.nickInput);
      return;
    }
    if (roomFromPath() !== room) {
      window.history.replaceState(null, "", "/" + room);
    }
    const stored = readIdentity(room);
    const sameName = stored && stored.nickname.toLowerCase() === nickname.toLowerCase();
    start(room, nickname, sameName ? stored.resume_token : null);
  }

  function start(room, nickname, token) {
    disconnect();
    state.room = room;
    state.nickname = nickname;
    state.token = token;
    state.poll = null;
    state.tally = null;
    state.myVote = null;
    state.pending = null;
    state.attempt = 0;
    state.everJoined = false;
    state.wanted = true;
    ui.joinError.textContent = "";
    ui.joinButton.disabled = true;
    connect();
  }

  function onLeave() {
    forgetIdentity(state.room);
    disconnect();
    state.everJoined = false;
    setConnection("idle", "");
    showJoinForm("");
  }

  // ---- rendering --------------------------------------------------------------------------

  function showJoinError(message, field) {
    ui.joinError.textContent = message;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.focus();
    }
  }

  function showJoinForm(message) {
    ui.pollView.hidden = true;
    ui.joinView.hidden = false;
    ui.joinButton.disabled = false;
    ui.roomInput.value = state.room || ui.roomInput.value;
    ui.nickInput.value = state.nickname || ui.nickInput.value;
    ui.joinError.textContent = message;
    (ui.roomInput.value ? ui.nickInput : ui.roomInput).focus();
  }

  function showPollView() {
    ui.joinView.hidden = true;
    ui.pollView.hidden = false;
    ui.joinButton.disabled = false;
  }

  function render() {
    const poll = state.poll;
    if (!poll) {
      return;
    }
    ui.pollRoom.textContent = poll.room_code;
    ui.me.textContent = state.nickname;
    ui.question.textContent = poll.question;
    ui.status.dataset.status = poll.status;
    ui.status.textContent = STATUS_TEXT[poll.status] || poll.status;
    document.title = "Zephyr: " + poll.question;
    renderOptions();
    renderResults();
  }

  function renderOptions() {
    const poll = state.poll;
    const key = JSON.stringify([poll.id, poll.options]);
    if (state.optionsKey !== key) {
      // Build the buttons once per poll, so focus stays put while updates arrive.
      ui.options.replaceChildren();
      poll.options.forEach((text, index) => {
        const item = document.createElement("li");
        const button = el("button", "option");
        button.type = "button";
        button.dataset.index = String(index);
        const label = el("span", "option-text");
        label.textContent = text;
        button.append(label, el("span", "option-mark"));
        button.addEventListener("click", () => vote(index));
        item.append(button);
        ui.options.append(item);
      });
      state.optionsKey = key;
    }
    const open = poll.status === "open";
    ui.legend.textContent = open
      ? state.myVote === null
        ? "Tap an option to vote"
        : "Tap another option to change your vote"
      : "Options";
    const pendingOption = state.pending ? state.pending.option : null;
    ui.options.querySelectorAll("button.option").forEach((button) => {
      const index = Number(button.dataset.index);
      const mine = state.myVote === index;
      const sending = pendingOption === index;
      button.disabled = !open;
      button.setAttribute("aria-pressed", mine ? "true" : "false");
      button.classList.toggle("mine", mine);
      button.classList.toggle("sending", sending);
      button.querySelector(".option-mark").textContent = sending
        ? "Sending…"
        : mine
          ? "Your vote"
          : "";
    });
  }

  function renderResults() {
    const poll = state.poll;
    if (!poll) {
      return;
    }
    const visible = !poll.hide_results_until_reveal || poll.revealed;
    ui.results.hidden = !visible;
    ui.resultsHidden.hidden = visible;
    if (!visible) {
      return;
    }
    const counts = poll.options.map((_, i) =>
      state.tally && Number.isInteger(state.tally.counts[i]) ? state.tally.counts[i] : 0
    );
    const total = counts.reduce((a, b) => a + b, 0);
    ui.resultsTotal.textContent = "(" + total + (total === 1 ? " vote)" : " votes)");
    if (ui.bars.children.length !== counts.length) {
      ui.bars.replaceChildren(...counts.map(() => barItem()));
    }
    counts.forEach((count, index) => {
      const item = ui.bars.children[index];
      const pct = percent(count, total);
      item.dataset.index = String(index);
      item.querySelector(".bar-label").textContent = poll.options[index];
      item.querySelector(".count").textContent = String(count);
      item.querySelector(".unit").textContent = count === 1 ? " vote · " : " votes · ";
      item.querySelector(".pct").textContent = pct + "%";
      // CSSOM, not a style attribute: allowed under a CSP without 'unsafe-inline'.
      item.querySelector(".fill").style.width = pct + "%";
      item.classList.toggle("mine", state.myVote === index);
    });
  }

  // An element with its class: the page builds its DOM with textContent, never innerHTML.
  function el(tag, className) {
    const node = document.createElement(tag);
    node.className = className;
    return node;
  }

  function barItem() {
    const item = el("li", "bar");
    const head = el("div", "bar-head");
    const value = el("span", "bar-value");
    value.append(el("span", "count"), el("span", "unit"), el("span", "pct"));
    head.append(el("span", "bar-label"), value);
    const track = el("div", "track");
    track.setAttribute("aria-hidden", "true");
    track.append(el("div", "fill"));
    item.append(head, track);
    return item;
  }

  // ---- start ------------------------------------------------------------------------------

  function init() {
    ui.joinForm.addEventListener("submit", onJoinSubmit);
    ui.leave.addEventListener("click", onLeave);
    ui.roomInput.addEventListener("input", () => ui.roomInput.removeAttribute("aria-invalid"));
    ui.nickInput.addEventListener("input", () => ui.nickInput.removeAttribute("aria-invalid"));
    // Phones suspend pages and drop sockets: come back at once rather than at the next retry.
    window.addEventListener("online", retryNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        retryNow();
      }
    });
    const room = roomFromPath();
    if (room) {
      ui.roomInput.value = room;
      const stored = readIdentity(room);
      if (stored) {
        start(room, stored.nickname, stored.resume_token);
        return;
      }
      ui.nickInput.focus();
    } else {
      ui.roomInput.focus();
    }
  }

  init();
})();
