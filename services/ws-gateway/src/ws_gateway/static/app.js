// Zephyr participant page: join a room, answer the question the host shows (single or multiple
// choice, rating, ranking, quiz), watch the results live and, in a quiz, see your points and
// rank. Plain JavaScript, no build step.
// User text is only ever set with textContent.
"use strict";

(function () {
  // ---- pure helpers (no DOM; unit-tested with node, see docs/pages.md) ------------------

  const KIND_TEXT = {
    single: "Single choice",
    multiple: "Multiple choice",
    rating: "Rating",
    ranking: "Ranking",
    wordcloud: "Word cloud",
    quiz: "Quiz",
  };

  function percent(count, total) {
    return total > 0 ? Math.round((100 * count) / total) : 0;
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  /** (low, high) of a multiple-choice question, its default ("all options") resolved. */
  function choiceRange(spec) {
    const count = (spec.options || []).length;
    const low = Number.isInteger(spec.min_choices) ? spec.min_choices : 1;
    const high = Number.isInteger(spec.max_choices) ? spec.max_choices : count;
    return [low, high];
  }

  /** How many options a ranking answer ranks (k), its default ("all") resolved. */
  function rankCount(spec) {
    const count = (spec.options || []).length;
    return Number.isInteger(spec.rank_count) ? spec.rank_count : count;
  }

  function ratingRange(spec) {
    const low = Number.isInteger(spec.min) ? spec.min : 1;
    const high = Number.isInteger(spec.max) ? spec.max : 5;
    return [low, high];
  }

  /** The rule of a multiple-choice question, in words ("Choose 1 to 2 options"). */
  function choiceRule(spec) {
    const [low, high] = choiceRange(spec);
    if (low === high) {
      return "Choose exactly " + plural(low, "option", "options");
    }
    return "Choose " + low + " to " + high + " options";
  }

  /** Why a multiple-choice selection cannot be sent yet, or null when it can. */
  function choiceProblem(spec, chosen) {
    const [low, high] = choiceRange(spec);
    if (chosen.length < low) {
      return low === high
        ? "Choose exactly " + plural(low, "option", "options") + "."
        : "Choose at least " + plural(low, "option", "options") + ".";
    }
    if (chosen.length > high) {
      return "Choose at most " + plural(high, "option", "options") + ".";
    }
    return null;
  }

  /** The vote frame's answer field for a question and what the participant picked. */
  function answerFields(spec, picked) {
    switch (spec.kind) {
      case "single":
        return { option: picked };
      case "multiple":
        return { options: picked.slice().sort((a, b) => a - b) };
      case "rating":
        return { value: picked };
      case "ranking":
        return { ranking: picked.slice() };
      case "wordcloud":
        return { words: picked.slice() };
      case "quiz":
        // One option, or several when the quiz has several correct ones (`multiple`).
        return spec.multiple ? { options: picked.slice().sort((a, b) => a - b) } : { option: picked };
      default:
        return null;
    }
  }

  /**
   * A quiz_result in words: {verdict, points, standing}. `answered`: whether this page knows an
   * answer of theirs; `participants`: how many are ranked (from the leaderboard), when known.
   */
  function quizResultText(result, answered, participants) {
    const verdict = result.correct ? "Correct!" : answered ? "Wrong answer" : "No answer";
    const bonus = Number.isInteger(result.bonus) ? result.bonus : 0;
    let points = result.points > 0 ? "+" + plural(result.points, "point", "points") : "No points";
    if (bonus > 0) {
      points += " · +" + bonus + " streak bonus (" + result.streak + " in a row)";
    }
    let rank = "rank " + result.rank;
    if (Number.isInteger(participants) && participants >= result.rank) {
      rank += " of " + participants;
    }
    return { verdict: verdict, points: points, standing: "Your score: " + result.score + " · " + rank };
  }

  /** An answer (as vote_accepted or joined.my_answers carry it) from the fields sent. */
  function answerFromFields(kind, fields) {
    return Object.assign({ kind: kind }, fields);
  }

  function sameAnswer(a, b) {
    if (!a || !b) {
      return false;
    }
    const pick = (x) => JSON.stringify([x.option, x.options, x.value, x.ranking, x.words]);
    return pick(a) === pick(b);
  }

  /** An answer in words: "Red", "Python, Go", "4", "1. B · 2. A". */
  function answerText(spec, answer) {
    if (!answer) {
      return "";
    }
    const options = spec.options || [];
    const label = (i) => (typeof options[i] === "string" ? options[i] : "#" + (i + 1));
    if (Number.isInteger(answer.option)) {
      return label(answer.option);
    }
    if (Array.isArray(answer.ranking)) {
      return answer.ranking.map((i, p) => p + 1 + ". " + label(i)).join(" · ");
    }
    if (Array.isArray(answer.options)) {
      return answer.options.map(label).join(", ");
    }
    if (Number.isInteger(answer.value)) {
      return String(answer.value);
    }
    if (Array.isArray(answer.words)) {
      return answer.words.join(", ");
    }
    return "";
  }

  /**
   * What a results list shows for a question's tally: one row per bar, and a summary line.
   * Rows: {key, label, count, unit, pct, width}. single/multiple: percentage of respondents
   * (`total`; for multiple they add up to more than 100). rating: the histogram, plus the
   * exact mean from the server (a string, never recomputed in floating point). ranking: Borda
   * points, best first, the bar relative to the most points an option can get (k × total).
   */
  function aggregateRows(spec, tally) {
    const t = tally || {};
    const counts = Array.isArray(t.counts) ? t.counts : [];
    const num = (x) => (Number.isInteger(x) ? x : 0);
    const options = spec.options || [];
    if (spec.kind === "wordcloud" && typeof ZephyrWords !== "undefined") {
      return ZephyrWords.rows(t); // words.js
    }
    if (spec.kind === "rating") {
      const [low, high] = ratingRange(spec);
      const values = [];
      for (let v = low; v <= high; v += 1) {
        values.push(v);
      }
      const cells = values.map((_, i) => num(counts[i]));
      const total = Number.isInteger(t.total) ? t.total : cells.reduce((a, b) => a + b, 0);
      const rows = values.map((v, i) => {
        let label = String(v);
        if (v === low && spec.min_label) {
          label += " · " + spec.min_label;
        } else if (v === high && spec.max_label) {
          label += " · " + spec.max_label;
        }
        const pct = percent(cells[i], total);
        return {
          key: String(v),
          label: label,
          count: cells[i],
          unit: cells[i] === 1 ? " answer · " : " answers · ",
          pct: pct + "%",
          width: pct,
        };
      });
      let mean = typeof t.mean === "string" ? t.mean : null;
      if (mean === null && total > 0 && Number.isInteger(t.sum)) {
        mean = (t.sum / total).toFixed(2);
      }
      return {
        rows: rows,
        total: total,
        summary: { label: "Mean", value: mean === null ? "–" : mean, note: "from " + plural(total, "answer", "answers") },
      };
    }
    if (spec.kind === "ranking") {
      const points = Array.isArray(t.points) ? t.points : [];
      const average = Array.isArray(t.average) ? t.average : [];
      const total = num(t.total);
      const best = rankCount(spec) * total;
      const rows = options.map((text, i) => ({
        key: String(i),
        label: text,
        count: num(points[i]),
        unit: num(points[i]) === 1 ? " point · avg " : " points · avg ",
        pct: typeof average[i] === "string" ? average[i] : "0.00",
        width: best > 0 ? Math.round((100 * num(points[i])) / best) : 0,
        index: i,
      }));
      rows.sort((a, b) => b.count - a.count || a.index - b.index);
      return {
        rows: rows,
        total: total,
        summary: {
          label: "Borda points",
          value: rankCount(spec) + " for a first place",
          note: "from " + plural(total, "ranking", "rankings"),
        },
      };
    }
    const cells = options.map((_, i) => num(counts[i]));
    const sum = cells.reduce((a, b) => a + b, 0);
    // multiple and quiz count one per option chosen: the percentages are of respondents.
    const byRespondents = spec.kind === "multiple" || spec.kind === "quiz";
    const total = byRespondents && Number.isInteger(t.total) ? t.total : sum;
    const rows = options.map((text, i) => {
      const pct = percent(cells[i], total);
      return {
        key: String(i),
        label: text,
        count: cells[i],
        unit: cells[i] === 1 ? " vote · " : " votes · ",
        pct: pct + "%",
        width: pct,
      };
    });
    const summary =
      spec.kind === "multiple"
        ? { label: "Respondents", value: String(total), note: "(percentages are of respondents)" }
        : null;
    return { rows: rows, total: total, summary: summary };
  }

  /** Milliseconds left until `closesAt` (ISO), on the server's clock (offset = server − local). */
  function remainingMs(closesAt, offsetMs, nowMs) {
    const closes = Date.parse(closesAt);
    if (Number.isNaN(closes)) {
      return null;
    }
    return closes - (nowMs + offsetMs);
  }

  /** "1:05" for 65 s left (rounded up, so 0:00 only once time is up). */
  function formatClock(ms) {
    const seconds = Math.max(0, Math.ceil(ms / 1000));
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  /** The run of questions of a poll view; a first-version view is a run of one. */
  function questionsOf(poll) {
    if (Array.isArray(poll.questions) && poll.questions.length > 0) {
      return poll.questions.map((q) => Object.assign({}, q));
    }
    return [
      {
        qid: 0,
        index: 0,
        spec: { kind: poll.kind || "single", prompt: poll.question, options: poll.options || [] },
        status: poll.status,
        revealed: poll.revealed,
        epoch: poll.epoch,
        closes_at: null,
      },
    ];
  }

  const helpers = {
    aggregateRows,
    answerFields,
    answerText,
    choiceProblem,
    choiceRange,
    choiceRule,
    formatClock,
    percent,
    questionsOf,
    quizResultText,
    rankCount,
    remainingMs,
    sameAnswer,
  };

  if (typeof document === "undefined") {
    // Loaded by node for the unit test of the helpers above: no page to run.
    if (typeof module === "object" && module.exports) {
      module.exports = helpers;
    }
    return;
  }

  // ---- the page ---------------------------------------------------------------------------

  const ROOM_RE = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/;
  const STORE_PREFIX = "zephyr.participant.";
  const BACKOFF_FIRST_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const PING_EVERY_MS = 25000;
  const PONG_WITHIN_MS = 10000;
  const TICK_MS = 250;
  const STATUS_TEXT = {
    draft: "Waiting for the host to open this question",
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
    position: $("question-position"),
    status: $("poll-status"),
    countdown: $("countdown"),
    question: $("question"),
    box: $("options-box"),
    legend: $("options-legend"),
    rule: $("answer-rule"),
    options: $("options"),
    scale: $("scale"),
    scaleEnds: $("scale-ends"),
    scaleMin: $("scale-min-label"),
    scaleMax: $("scale-max-label"),
    answerActions: $("answer-actions"),
    sendAnswer: $("send-answer"),
    clearAnswer: $("clear-answer"),
    myAnswer: $("my-answer"),
    voteNote: $("vote-note"),
    results: $("results"),
    resultsTotal: $("results-total"),
    bars: $("bars"),
    summary: $("results-summary"),
    resultsHidden: $("results-hidden"),
    voteAlert: $("vote-alert"),
    quizResult: $("quiz-result"),
    quizVerdict: $("quiz-verdict"),
    quizPoints: $("quiz-points"),
    quizStanding: $("quiz-standing"),
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
    questions: [], // QuestionState of the run, in order (index = position)
    current: 0, // index of the question participants see
    tallies: {}, // qid -> latest tally frame
    answers: {}, // qid -> my counted answer ({kind, option | options | value | ranking})
    picks: {}, // qid -> what is ticked or ranked but not sent yet (multiple, ranking)
    pending: null, // {qid, kind, fields, clientVoteId, epoch}: sent but not yet accepted
    locked: {}, // qid -> true: a quiz answer the gateway says is locked (answer_locked)
    correct: {}, // qid -> a closed quiz question's correct options (from `leaderboard`)
    quizResult: null, // the latest quiz_result frame (mine)
    board: null, // the latest leaderboard frame
    clockOffset: 0, // server clock − this device's clock, from server_time
    attempt: 0,
    retryTimer: null,
    retryAt: 0,
    countdownTimer: null,
    pingTimer: null,
    pongTimer: null,
    tickTimer: null,
    controlsKey: null,
    shownQid: null,
    refreshedAt: 0,
    refreshTimer: null,
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

  function byQid(qid) {
    return state.questions.find((q) => q.qid === qid) || null;
  }

  function currentQuestion() {
    return state.questions.find((q) => q.index === state.current) || state.questions[0] || null;
  }

  /** The server's clock from a frame's server_time, so countdowns ignore the phone's clock. */
  function syncClock(serverTime) {
    const server = Date.parse(serverTime || "");
    if (!Number.isNaN(server)) {
      state.clockOffset = server - Date.now();
    }
  }

  function timeLeft(question) {
    if (!question || question.status !== "open" || !question.closes_at) {
      return null;
    }
    return remainingMs(question.closes_at, state.clockOffset, Date.now());
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

  /** Our copy of the run no longer matches the server's: rejoin for a fresh `joined`. */
  function refreshRun() {
    // At most once every 10 s, so frames that never fit cannot make the page loop.
    if (state.ws && Date.now() - state.refreshedAt > 10000) {
      state.refreshedAt = Date.now();
      state.ws.close(4000, "refresh");
      return true;
    }
    if (state.ws && state.refreshTimer === null) {
      // Refreshed a moment ago: once more when the 10 s are over, unless a join put it right.
      state.refreshTimer = window.setTimeout(() => {
        state.refreshTimer = null;
        if (!runIsWhole()) {
          refreshRun();
        }
      }, state.refreshedAt + 10001 - Date.now());
    }
    return false;
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
        onTally(frame);
        break;
      case "poll_state":
        onPollState(frame);
        break;
      case "quiz_result":
        onQuizResult(frame);
        break;
      case "leaderboard":
        onLeaderboard(frame);
        break;
      case "error":
        onError(frame);
        break;
      case "pong":
        window.clearTimeout(state.pongTimer);
        break;
      case "qa":
      case "asked":
      case "upvoted":
        window.ZephyrQa.onFrame(frame); // the Q&A board: qa.js
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
    syncClock(frame.server_time);
    state.poll = frame.poll;
    state.questions = questionsOf(frame.poll);
    state.current = Number.isInteger(frame.current)
      ? frame.current
      : Number.isInteger(frame.poll.current)
        ? frame.poll.current
        : 0;
    const current = currentQuestion();
    state.tallies = {};
    if (frame.tally) {
      const qid = Number.isInteger(frame.tally.qid) ? frame.tally.qid : current ? current.qid : 0;
      state.tallies[qid] = frame.tally;
    }
    state.answers = {};
    if (Array.isArray(frame.my_answers)) {
      for (const mine of frame.my_answers) {
        if (mine && mine.answer && Number.isInteger(mine.qid)) {
          state.answers[mine.qid] = mine.answer;
        }
      }
    }
    if (current && state.answers[current.qid] === undefined && Number.isInteger(frame.my_vote)) {
      state.answers[current.qid] = { kind: "single", option: frame.my_vote };
    }
    // A resume: the score and rank after the latest scored quiz question, and its answer.
    state.quizResult = null;
    state.board = null;
    state.correct = {};
    state.locked = {};
    if (frame.leaderboard) {
      onLeaderboard(frame.leaderboard, false);
    }
    if (frame.quiz_result) {
      state.quizResult = frame.quiz_result;
    }
    setConnection("connected", "Connected");
    startPing();
    startTicking();
    showPollView();
    // An answer given while the connection was down goes out now, under its first id, so it
    // counts once even if the first attempt did reach the gateway.
    const pending = state.pending;
    const target = pending ? byQid(pending.qid) : null;
    if (pending && target && pending.epoch === target.epoch && target.status === "open") {
      sendPending(pending, target);
    } else {
      state.pending = null;
    }
    render();
    if (firstJoin) {
      ui.question.focus();
    }
  }

  function onVoteAccepted(frame) {
    const pending = state.pending;
    const mine = pending && pending.clientVoteId === frame.client_vote_id;
    let qid = Number.isInteger(frame.qid) ? frame.qid : null;
    if (qid === null) {
      qid = mine ? pending.qid : currentQuestion() ? currentQuestion().qid : 0;
    }
    const question = byQid(qid);
    let answer = frame.answer || null;
    if (!answer && Number.isInteger(frame.option)) {
      answer = { kind: "single", option: frame.option };
    }
    if (!answer && mine) {
      answer = answerFromFields(pending.kind, pending.fields);
    }
    if (mine) {
      state.pending = null;
    }
    if (answer) {
      state.answers[qid] = answer;
    }
    delete state.picks[qid];
    if (question && answer) {
      const text = answerText(question.spec, answer);
      const kind = question.spec.kind;
      ui.voteNote.textContent =
        kind === "single"
          ? "Your vote for “" + text + "” is counted."
          : kind === "quiz"
            ? "Your answer is locked in: " + text + "."
            : "Your answer is counted: " + text + ".";
    }
    render();
  }

  function onQuizResult(frame) {
    const known = state.quizResult;
    if (known && Number.isInteger(known.version) && frame.version < known.version) {
      return; // an older result overtaken by a newer one
    }
    state.quizResult = frame;
    renderQuizResult();
  }

  /** Every screen's leaderboard: it also tells the closed question's correct options. */
  function onLeaderboard(frame, draw = true) {
    const known = state.board;
    if (known && Number.isInteger(known.version) && frame.version < known.version) {
      return;
    }
    state.board = frame;
    if (Number.isInteger(frame.qid) && Array.isArray(frame.correct_options)) {
      state.correct[frame.qid] = frame.correct_options;
      if (Array.isArray(frame.counts) && frame.counts.length && !state.tallies[frame.qid]) {
        state.tallies[frame.qid] = { qid: frame.qid, kind: "quiz", counts: frame.counts, version: 0 };
      }
    }
    if (draw) {
      render();
    }
  }

  function onTally(frame) {
    let qid = Number.isInteger(frame.qid) ? frame.qid : null;
    if (qid === null) {
      const question = Number.isInteger(frame.question)
        ? state.questions.find((q) => q.index === frame.question)
        : currentQuestion();
      qid = question ? question.qid : 0;
    }
    const known = state.tallies[qid];
    if (known && Number.isInteger(known.version) && frame.version < known.version) {
      return; // an older tally overtaken by a newer one
    }
    state.tallies[qid] = frame;
    renderResults();
  }

  function onPollState(frame) {
    if (!state.poll) {
      return;
    }
    syncClock(frame.server_time);
    let question = Number.isInteger(frame.qid) ? byQid(frame.qid) : null;
    // A first-version frame names no question: it is about the current one.
    const index = Number.isInteger(frame.question)
      ? frame.question
      : question
        ? question.index
        : state.current;
    if (!question && !Number.isInteger(frame.qid)) {
      question = state.questions.find((q) => q.index === index) || null;
    }
    if (!question) {
      if (!frame.spec || !Number.isInteger(frame.qid)) {
        refreshRun(); // nothing to draw it from: ask for the whole run again
        return;
      }
      // A question the host appended.
      question = { qid: frame.qid, index: index, spec: frame.spec, epoch: frame.epoch };
      state.questions.push(question);
    }
    if (question.index !== index) {
      // Questions moved or one was deleted: the gateway sends a frame for each question whose
      // place changed, so the run is patched here, without every phone rejoining at once.
      for (const other of state.questions) {
        if (other !== question && other.index === index) {
          other.index = -1; // its own frame puts it back; a deleted one stays out
        }
      }
      question.index = index;
    }
    if (frame.epoch !== question.epoch) {
      // A reset: every answer of the old round is gone, including ours.
      if (state.answers[question.qid] !== undefined || index === frame.current) {
        ui.voteNote.textContent = "The host started this question again: your answer was cleared.";
      }
      delete state.answers[question.qid];
      delete state.tallies[question.qid];
      delete state.picks[question.qid];
      delete state.locked[question.qid];
      delete state.correct[question.qid];
      if (state.pending && state.pending.qid === question.qid) {
        state.pending = null;
      }
    }
    Object.assign(question, {
      status: frame.status,
      revealed: frame.revealed,
      epoch: frame.epoch,
      closes_at: frame.closes_at || null,
    });
    if (frame.spec) {
      question.spec = frame.spec;
    }
    if (frame.status !== "open" && state.pending && state.pending.qid === question.qid) {
      state.pending = null;
      ui.voteNote.textContent = "Voting closed before your answer went through.";
    }
    if (Number.isInteger(frame.current)) {
      state.current = frame.current;
    }
    if (!runIsWhole() && refreshRun()) {
      // A move announced for one question only leaves the others where they were: our copy
      // has a hole, and the question on screen could be the wrong one. Rejoin for the run.
      return;
    }
    render();
  }

  /** Whether the placed questions are at 0 … n−1, once each, and the current one is there. */
  function runIsWhole() {
    const indexes = state.questions
      .map((q) => q.index)
      .filter((i) => i >= 0)
      .sort((a, b) => a - b);
    return indexes.every((i, position) => i === position) && state.current < indexes.length;
  }

  function onError(frame) {
    if (window.ZephyrQa && window.ZephyrQa.onError(frame)) {
      return; // it answered an ask or an upvote (qa.js)
    }
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
      case "question_closed":
        state.pending = null;
        ui.voteNote.textContent = "Voting is closed: that answer was not counted.";
        render();
        break;
      case "invalid_answer":
      case "invalid_option":
        state.pending = null;
        ui.voteNote.textContent = "Not counted: " + message;
        render();
        break;
      case "answer_locked": {
        // The first answer to a quiz question counts; this one did not change it.
        const qid = state.pending ? state.pending.qid : currentQuestion() ? currentQuestion().qid : null;
        state.pending = null;
        if (qid !== null) {
          state.locked[qid] = true;
        }
        ui.voteNote.textContent = "";
        // The server's message names the question by its 0-based index: say it in words here.
        ui.voteAlert.textContent = "Your first answer is locked: it cannot be changed.";
        ui.voteAlert.hidden = false;
        render();
        break;
      }
      case "unknown_question":
        state.pending = null;
        ui.voteNote.textContent = "That question is no longer in the poll.";
        refreshRun();
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
    ui.voteNote.textContent = "Busy; sending your answer again in a moment…";
    window.setTimeout(() => {
      const target = byQid(pending.qid);
      if (state.pending === pending && state.joined && target) {
        sendPending(pending, target);
      }
    }, waitMs);
  }

  // ---- answering --------------------------------------------------------------------------

  function sendPending(pending, question) {
    const frame = Object.assign(
      { type: "vote", question: question.index },
      pending.fields,
      { client_vote_id: pending.clientVoteId }
    );
    return state.joined && send(frame);
  }

  /** Send an answer to the current question (`picked`: an index, a value or a list). */
  function answer(picked) {
    const question = currentQuestion();
    if (!question || question.status !== "open") {
      return;
    }
    if (isLocked(question)) {
      ui.voteNote.textContent = "Your first answer is locked: it cannot be changed.";
      return;
    }
    const left = timeLeft(question);
    if (left !== null && left <= 0) {
      ui.voteNote.textContent = "Time is up: answers are no longer taken.";
      return;
    }
    const fields = answerFields(question.spec, picked);
    if (!fields) {
      ui.voteNote.textContent = "This page cannot answer this kind of question yet.";
      return;
    }
    const pending = state.pending;
    if (pending && pending.qid === question.qid && sameAnswer(pending.fields, fields)) {
      return;
    }
    if (!pending && sameAnswer(state.answers[question.qid], fields)) {
      ui.voteNote.textContent =
        question.spec.kind === "single" ? "That is already your vote." : "That is already your answer.";
      return;
    }
    state.pending = {
      qid: question.qid,
      kind: question.spec.kind,
      fields: fields,
      clientVoteId: newClientVoteId(),
      epoch: question.epoch,
    };
    const sent = sendPending(state.pending, question);
    ui.voteNote.textContent = sent
      ? "Sending your answer…"
      : "Your answer will be sent when the connection is back.";
    render();
  }

  /** What is ticked (multiple) or ranked (ranking) on the current question, not yet sent. */
  function picksFor(question) {
    if (state.picks[question.qid] === undefined) {
      const mine = state.answers[question.qid];
      if (question.spec.kind === "multiple" || question.spec.kind === "quiz") {
        state.picks[question.qid] = mine && Array.isArray(mine.options) ? mine.options.slice() : [];
      } else {
        state.picks[question.qid] = mine && Array.isArray(mine.ranking) ? mine.ranking.slice() : [];
      }
    }
    return state.picks[question.qid];
  }

  function onChoiceToggle(question, index, checkbox) {
    const picks = picksFor(question);
    const at = picks.indexOf(index);
    const [, high] = choiceRange(question.spec);
    if (checkbox.checked && at < 0) {
      if (picks.length >= high) {
        checkbox.checked = false; // the rule is enforced before anything is sent
        ui.voteNote.textContent =
          "You can choose at most " + plural(high, "option", "options") + ": untick one first.";
        return;
      }
      picks.push(index);
    } else if (!checkbox.checked && at >= 0) {
      picks.splice(at, 1);
    }
    ui.voteNote.textContent = "";
    renderControls();
  }

  function onRankTap(question, index) {
    const picks = picksFor(question);
    const at = picks.indexOf(index);
    if (at >= 0) {
      picks.splice(at, 1); // tapping a ranked option takes it out; those below move up
    } else if (picks.length < rankCount(question.spec)) {
      picks.push(index);
    } else {
      ui.voteNote.textContent = "Every place is taken: tap a ranked option to take it out.";
      return;
    }
    ui.voteNote.textContent = "";
    renderControls();
  }

  function onSendAnswer() {
    const question = currentQuestion();
    if (!question) {
      return;
    }
    const picks = picksFor(question);
    if (question.spec.kind === "multiple" || question.spec.kind === "quiz") {
      const problem = choiceProblem(question.spec, picks);
      if (problem) {
        ui.voteNote.textContent = problem;
        return;
      }
    } else if (question.spec.kind === "ranking") {
      const k = rankCount(question.spec);
      if (picks.length !== k) {
        ui.voteNote.textContent = "Rank " + plural(k, "option", "options") + " before sending.";
        return;
      }
    }
    answer(picks.slice());
  }

  function onClearRanking() {
    const question = currentQuestion();
    if (question) {
      state.picks[question.qid] = [];
      ui.voteNote.textContent = "";
      renderControls();
    }
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
    Object.assign(state, {
      room: room,
      nickname: nickname,
      token: token,
      poll: null,
      questions: [],
      current: 0,
      tallies: {},
      answers: {},
      picks: {},
      pending: null,
      locked: {},
      correct: {},
      quizResult: null,
      board: null,
      attempt: 0,
      everJoined: false,
      wanted: true,
      controlsKey: null,
      shownQid: null,
    });
    ui.joinError.textContent = "";
    ui.joinButton.disabled = true;
    connect();
  }

  function onLeave() {
    forgetIdentity(state.room);
    disconnect();
    stopTicking();
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

  function startTicking() {
    if (state.tickTimer === null) {
      state.tickTimer = window.setInterval(renderCountdown, TICK_MS);
    }
  }

  function stopTicking() {
    window.clearInterval(state.tickTimer);
    state.tickTimer = null;
  }

  function render() {
    const poll = state.poll;
    const question = currentQuestion();
    if (!poll || !question) {
      return;
    }
    ui.pollRoom.textContent = poll.room_code;
    ui.me.textContent = state.nickname;
    const count = state.questions.filter((q) => q.index >= 0).length;
    ui.position.hidden = count < 2 && !poll.title;
    ui.position.textContent =
      (poll.title ? poll.title + " · " : "") + "Question " + (question.index + 1) + " of " + count;
    ui.question.textContent = question.spec.prompt;
    ui.status.dataset.status = question.status;
    ui.status.textContent = STATUS_TEXT[question.status] || question.status;
    document.title = "Zephyr: " + question.spec.prompt;
    const changed = state.shownQid !== null && state.shownQid !== question.qid;
    state.shownQid = question.qid;
    renderControls();
    renderMyAnswer();
    renderResults();
    renderQuizResult();
    renderCountdown();
    if (changed) {
      // The host showed another question: start reading there.
      if (!state.pending) {
        ui.voteNote.textContent = "";
      }
      ui.voteAlert.hidden = true;
      ui.voteAlert.textContent = "";
      ui.question.focus();
    }
  }

  function renderCountdown() {
    const question = currentQuestion();
    const left = timeLeft(question);
    ui.countdown.hidden = left === null;
    if (left === null) {
      return;
    }
    const up = left <= 0;
    ui.countdown.dataset.state = up ? "up" : left <= 10000 ? "soon" : "running";
    ui.countdown.textContent = up ? "Time is up" : "Time left " + formatClock(left);
    const wasUp = ui.box.dataset.timeUp === "true";
    if (up !== wasUp) {
      ui.box.dataset.timeUp = up ? "true" : "false";
      renderControls();
    }
  }

  function canAnswer(question) {
    const left = timeLeft(question);
    return question.status === "open" && (left === null || left > 0);
  }

  function renderControls() {
    const question = currentQuestion();
    if (!question) {
      return;
    }
    const spec = question.spec;
    const kind = spec.kind;
    const key = JSON.stringify([state.poll.id, question.qid, spec]);
    if (state.controlsKey !== key) {
      // Build the controls once per question, so focus stays put while updates arrive.
      buildControls(question);
      state.controlsKey = key;
    }
    ui.box.dataset.kind = kind;
    const open = canAnswer(question);
    const mine = state.answers[question.qid] || null;
    const pending = state.pending && state.pending.qid === question.qid ? state.pending : null;
    const quizChoices = kind === "quiz" && spec.multiple === true;
    ui.answerActions.hidden = !(kind === "multiple" || kind === "ranking" || quizChoices);
    ui.clearAnswer.hidden = kind !== "ranking";
    ui.sendAnswer.disabled = !open || pending !== null;
    ui.clearAnswer.disabled = !open;
    ui.rule.hidden = !(kind === "multiple" || kind === "ranking");
    if (kind === "single") {
      ui.legend.textContent = open
        ? mine === null
          ? "Tap an option to vote"
          : "Tap another option to change your vote"
        : "Options";
      const pendingOption = pending ? pending.fields.option : null;
      ui.options.querySelectorAll("button.option").forEach((button) => {
        const index = Number(button.dataset.index);
        const isMine = mine !== null && mine.option === index;
        const sending = pendingOption === index;
        button.disabled = !open;
        button.setAttribute("aria-pressed", isMine ? "true" : "false");
        button.classList.toggle("mine", isMine);
        button.classList.toggle("sending", sending);
        button.querySelector(".option-mark").textContent = sending
          ? "Sending…"
          : isMine
            ? "Your vote"
            : "";
      });
    } else if (kind === "multiple") {
      const picks = picksFor(question);
      const [, high] = choiceRange(spec);
      ui.legend.textContent = open ? choiceRule(spec) : "Options";
      ui.rule.textContent = picks.length + " of at most " + high + " chosen";
      ui.sendAnswer.textContent = pending
        ? "Sending…"
        : mine
          ? "Change my answer"
          : "Send my answer";
      ui.options.querySelectorAll("input[type=checkbox]").forEach((box) => {
        const index = Number(box.dataset.index);
        box.checked = picks.includes(index);
        box.disabled = !open;
        const isMine = mine !== null && Array.isArray(mine.options) && mine.options.includes(index);
        box.closest("li").classList.toggle("mine", isMine);
      });
    } else if (kind === "rating") {
      const [low, high] = ratingRange(spec);
      ui.legend.textContent = open
        ? "Tap a value from " + low + " to " + high
        : "Values from " + low + " to " + high;
      ui.scale.querySelectorAll("button").forEach((button) => {
        const value = Number(button.dataset.value);
        const isMine = mine !== null && mine.value === value;
        const sending = pending !== null && pending.fields.value === value;
        button.disabled = !open;
        button.setAttribute("aria-pressed", isMine ? "true" : "false");
        button.classList.toggle("mine", isMine);
        button.classList.toggle("sending", sending);
      });
    } else if (kind === "ranking") {
      const picks = picksFor(question);
      const k = rankCount(spec);
      ui.legend.textContent = open
        ? "Tap the options in order, best first"
        : "Options";
      ui.rule.textContent =
        picks.length < k
          ? "Place " + (picks.length + 1) + " of " + k + ": tap an option (tap a ranked one to take it out)"
          : "All " + k + " places are filled: send your ranking";
      ui.sendAnswer.textContent = pending
        ? "Sending…"
        : mine
          ? "Change my ranking"
          : "Send my ranking";
      ui.options.querySelectorAll("button.option").forEach((button) => {
        const index = Number(button.dataset.index);
        const place = picks.indexOf(index);
        button.disabled = !open;
        button.setAttribute("aria-pressed", place >= 0 ? "true" : "false");
        button.classList.toggle("mine", place >= 0);
        button.querySelector(".option-mark").textContent = place >= 0 ? "Rank " + (place + 1) : "";
      });
    } else if (kind === "quiz") {
      renderQuizControls(question, open, mine, pending);
    } else if (kind === "wordcloud" && state.wordForm) {
      ui.legend.textContent = open ? "Type your words, then send them" : "Words";
      state.wordForm.render(open, mine, pending);
    } else {
      ui.legend.textContent = KIND_TEXT[kind] || kind;
    }
  }

  /** A quiz question's first answer counts: once sent (or refused as locked) it is locked. */
  function isLocked(question) {
    if (question.spec.kind !== "quiz") {
      return false;
    }
    const pending = state.pending && state.pending.qid === question.qid;
    return pending || state.answers[question.qid] !== undefined || state.locked[question.qid] === true;
  }

  function renderQuizControls(question, open, mine, pending) {
    const spec = question.spec;
    const locked = isLocked(question);
    const usable = open && !locked;
    const correct = state.correct[question.qid] || null;
    const chosen = (i) =>
      mine !== null && (mine.option === i || (Array.isArray(mine.options) && mine.options.includes(i)));
    const markOf = (i, sending) => {
      if (sending) {
        return "Sending…";
      }
      if (correct !== null && correct.includes(i)) {
        return chosen(i) ? "Correct · your answer" : "Correct answer";
      }
      return chosen(i) ? "Your answer" : "";
    };
    if (usable) {
      ui.legend.textContent = spec.multiple
        ? "Choose the correct options, then send: your first answer counts"
        : "Tap your answer: the first one counts";
    } else {
      ui.legend.textContent = open && locked ? "Your answer is locked" : "Options";
    }
    ui.sendAnswer.disabled = !usable;
    ui.sendAnswer.textContent = pending ? "Sending…" : locked ? "Answer locked" : "Send my answer";
    if (spec.multiple) {
      const picks = picksFor(question);
      const sending = pending ? pending.fields.options || [] : [];
      ui.options.querySelectorAll("input[type=checkbox]").forEach((box) => {
        const index = Number(box.dataset.index);
        box.checked = mine !== null ? chosen(index) : picks.includes(index) || sending.includes(index);
        box.disabled = !usable;
        const item = box.closest("li");
        item.classList.toggle("mine", chosen(index));
        item.classList.toggle("correct", correct !== null && correct.includes(index));
        item.querySelector(".option-mark").textContent = markOf(index, false);
      });
      return;
    }
    const pendingOption = pending ? pending.fields.option : null;
    ui.options.querySelectorAll("button.option").forEach((button) => {
      const index = Number(button.dataset.index);
      button.disabled = !usable;
      button.setAttribute("aria-pressed", chosen(index) ? "true" : "false");
      button.classList.toggle("mine", chosen(index));
      button.classList.toggle("sending", pendingOption === index);
      button.classList.toggle("correct", correct !== null && correct.includes(index));
      button.querySelector(".option-mark").textContent = markOf(index, pendingOption === index);
    });
  }

  function buildControls(question) {
    const spec = question.spec;
    ui.options.replaceChildren();
    ui.scale.replaceChildren();
    const withOptions = ["single", "multiple", "ranking", "quiz", "wordcloud"];
    ui.options.hidden = !withOptions.includes(spec.kind);
    ui.scale.hidden = spec.kind !== "rating";
    ui.scaleEnds.hidden = true;
    const quizTaps = spec.kind === "quiz" && !spec.multiple;
    const quizBoxes = spec.kind === "quiz" && spec.multiple === true;
    state.wordForm = null;
    if (spec.kind === "wordcloud" && typeof ZephyrWords !== "undefined") {
      // words.js: the fields of a word cloud; the list replaces the participant's entries.
      state.wordForm = ZephyrWords.build(ui.options, spec, (words) => {
        const now = currentQuestion();
        if (now && now.qid === question.qid) {
          answer(words);
        }
      });
    } else if (spec.kind === "single" || spec.kind === "ranking" || quizTaps) {
      (spec.options || []).forEach((text, index) => {
        const item = document.createElement("li");
        const button = el("button", "option");
        button.type = "button";
        button.dataset.index = String(index);
        const label = el("span", "option-text");
        label.textContent = text;
        button.append(label, el("span", "option-mark"));
        button.addEventListener("click", () => {
          const now = currentQuestion();
          if (!now || now.qid !== question.qid) {
            return;
          }
          if (spec.kind === "ranking") {
            onRankTap(now, index);
          } else {
            answer(index);
          }
        });
        item.append(button);
        ui.options.append(item);
      });
    } else if (spec.kind === "multiple" || quizBoxes) {
      (spec.options || []).forEach((text, index) => {
        const item = el("li", "choice");
        const id = "choice-" + question.qid + "-" + index;
        const box = document.createElement("input");
        box.type = "checkbox";
        box.id = id;
        box.dataset.index = String(index);
        const label = el("label", "choice-label");
        label.htmlFor = id;
        const textNode = el("span", "option-text");
        textNode.textContent = text;
        label.append(textNode);
        if (quizBoxes) {
          label.append(el("span", "option-mark"));
        }
        box.addEventListener("change", () => {
          const now = currentQuestion();
          if (now && now.qid === question.qid) {
            onChoiceToggle(now, index, box);
          }
        });
        item.append(box, label);
        ui.options.append(item);
      });
    } else if (spec.kind === "rating") {
      const [low, high] = ratingRange(spec);
      for (let value = low; value <= high; value += 1) {
        const item = document.createElement("li");
        const button = el("button", "scale-value");
        button.type = "button";
        button.dataset.value = String(value);
        button.textContent = String(value);
        let name = String(value);
        if (value === low && spec.min_label) {
          name += " (" + spec.min_label + ")";
        } else if (value === high && spec.max_label) {
          name += " (" + spec.max_label + ")";
        }
        button.setAttribute("aria-label", name);
        button.addEventListener("click", () => {
          const now = currentQuestion();
          if (now && now.qid === question.qid) {
            answer(value);
          }
        });
        item.append(button);
        ui.scale.append(item);
      }
      ui.scaleEnds.hidden = !(spec.min_label || spec.max_label);
      ui.scaleMin.textContent = spec.min_label ? low + " = " + spec.min_label : "";
      ui.scaleMax.textContent = spec.max_label ? high + " = " + spec.max_label : "";
    }
  }

  function renderMyAnswer() {
    const question = currentQuestion();
    const mine = question ? state.answers[question.qid] : undefined;
    const text = mine ? answerText(question.spec, mine) : "";
    ui.myAnswer.hidden = !text;
    ui.myAnswer.textContent = text ? "Your answer: " + text : "";
  }

  function renderResults() {
    const poll = state.poll;
    const question = currentQuestion();
    if (!poll || !question) {
      return;
    }
    // A quiz's answers are shown once it closes (they would give the answer away before).
    const quizOpen = question.spec.kind === "quiz" && question.status !== "closed";
    const visible = (!poll.hide_results_until_reveal || question.revealed) && !quizOpen;
    ui.results.hidden = !visible;
    ui.resultsHidden.hidden = visible;
    ui.resultsHidden.textContent = quizOpen
      ? "The answers appear when the question closes."
      : "The results appear when the host reveals them.";
    if (!visible) {
      return;
    }
    const spec = question.spec;
    const correct = spec.kind === "quiz" ? state.correct[question.qid] || [] : [];
    const view = aggregateRows(spec, state.tallies[question.qid]);
    const noun = spec.kind === "single" ? ["vote", "votes"] : ["answer", "answers"];
    ui.resultsTotal.textContent = "(" + plural(view.total, noun[0], noun[1]) + ")";
    if (ui.bars.children.length !== view.rows.length) {
      ui.bars.replaceChildren(...view.rows.map(() => barItem()));
    }
    const mine = state.answers[question.qid] || null;
    view.rows.forEach((row, position) => {
      const item = ui.bars.children[position];
      item.dataset.index = row.key;
      const right = correct.includes(Number(row.key));
      item.querySelector(".bar-label").textContent = row.label + (right ? " ✓ correct" : "");
      item.classList.toggle("correct", right);
      item.querySelector(".count").textContent = String(row.count);
      item.querySelector(".unit").textContent = row.unit;
      item.querySelector(".pct").textContent = row.pct;
      // CSSOM, not a style attribute: allowed under a CSP without 'unsafe-inline'.
      item.querySelector(".fill").style.width = row.width + "%";
      item.classList.toggle("mine", isMineRow(spec, mine, row.key));
    });
    ui.summary.hidden = view.summary === null;
    if (view.summary) {
      renderSummary(ui.summary, view.summary);
    }
  }

  function renderQuizResult() {
    const result = state.quizResult;
    const question = currentQuestion();
    ui.quizResult.hidden = !result;
    if (!result) {
      return;
    }
    // The verdict and points belong to their question; the score and rank stay on screen.
    const here = question !== null && question.qid === result.qid;
    const board = state.board;
    const participants = board && board.version === result.version ? board.participants : null;
    const text = quizResultText(result, state.answers[result.qid] !== undefined, participants);
    ui.quizResult.dataset.correct = here ? String(result.correct) : "";
    ui.quizVerdict.hidden = !here;
    ui.quizPoints.hidden = !here;
    ui.quizVerdict.textContent = text.verdict;
    ui.quizPoints.textContent = text.points;
    ui.quizStanding.textContent = text.standing;
  }

  function isMineRow(spec, mine, key) {
    if (!mine) {
      return false;
    }
    const n = Number(key);
    if (spec.kind === "rating") {
      return mine.value === n;
    }
    if (Array.isArray(mine.options)) {
      return mine.options.includes(n);
    }
    if (Array.isArray(mine.ranking)) {
      return mine.ranking[0] === n;
    }
    return mine.option === n;
  }

  function renderSummary(node, summary) {
    if (node.children.length !== 3) {
      node.replaceChildren(el("span", "summary-label"), el("strong", "summary-value"), el("span", "summary-note"));
    }
    node.children[0].textContent = summary.label + " ";
    node.children[1].textContent = summary.value;
    node.children[2].textContent = " " + summary.note;
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
    ui.sendAnswer.addEventListener("click", onSendAnswer);
    ui.clearAnswer.addEventListener("click", onClearRanking);
    ui.roomInput.addEventListener("input", () => ui.roomInput.removeAttribute("aria-invalid"));
    ui.nickInput.addEventListener("input", () => ui.nickInput.removeAttribute("aria-invalid"));
    if (window.ZephyrQa) {
      window.ZephyrQa.init({ send: send, room: () => state.room || "" });
    }
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
