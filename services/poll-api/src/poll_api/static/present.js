// Zephyr presenter view: the question on screen, large, with its live aggregate in its kind's
// form (bars, a histogram and its mean, Borda points), the countdown and the join QR, for a
// projector. With the host token (this tab, or the console tab that opened it) it reads live
// results; without it, results once revealed. Results the host hides until the reveal are
// never projected before it.
import {
  $,
  KIND_TEXT,
  STATUS_TEXT,
  api,
  describeError,
  every,
  formatClock,
  questionsOf,
  remainingMs,
  renderAggregate,
  roomFromPath,
  setUrlText,
  tokenFor,
} from "./common.js";

const REFRESH_MS = 1000;
const TICK_MS = 250;

// Every element of the view has the id "present-<name>" (the bars' list is "bars").
const PARTS = [
  "position",
  "status",
  "countdown",
  "figures",
  "question",
  "summary",
  "hidden",
  "error",
  "link",
  "qr",
  "room",
];
const ui = Object.fromEntries(PARTS.map((name) => [name, $("present-" + name)]));
ui.bars = $("bars");

const room = roomFromPath();
const token = room ? tokenFor(room) : null;
const shown = { question: null, clockOffset: 0 };

/** The aggregate of the question on screen, or null when this view may not show it. */
async function aggregateOf(poll, question) {
  const path = "/api/polls/" + room + "/questions/" + question.index + "/results";
  if (token || question.revealed) {
    const result = await api(path, { token });
    if (result.ok && result.data) {
      return result.data;
    }
  }
  // A first-version answer: the revealed results of its only question.
  if (question.revealed && poll.results && question.index === 0) {
    return poll.results;
  }
  return null;
}

async function refresh() {
  const pollResult = await api("/api/polls/" + room);
  if (!pollResult.ok) {
    ui.error.textContent =
      pollResult.status === 404 ? "No poll has the room code " + room + "." : describeError(pollResult);
    return;
  }
  const poll = pollResult.data;
  if (pollResult.clockOffset !== null) {
    shown.clockOffset = pollResult.clockOffset;
  }
  const run = questionsOf(poll);
  const current = Number.isInteger(poll.current) ? poll.current : 0;
  const question = run.find((q) => q.index === current) || run[0];
  const spec = question.spec;
  const visible = !poll.hide_results_until_reveal || question.revealed;
  const aggregate = visible ? await aggregateOf(poll, question) : null;
  shown.question = question;
  ui.error.textContent = "";
  ui.position.hidden = run.length < 2 && !poll.title;
  ui.position.textContent =
    (poll.title ? poll.title + " · " : "") +
    "Question " + (question.index + 1) + " of " + run.length + " · " + (KIND_TEXT[spec.kind] || spec.kind);
  ui.question.textContent = spec.prompt;
  document.title = "Zephyr: " + spec.prompt;
  ui.status.dataset.status = question.status;
  ui.status.textContent = STATUS_TEXT[question.status] || question.status;
  const showBars = visible && aggregate !== null;
  ui.bars.hidden = !showBars;
  ui.hidden.hidden = showBars;
  ui.hidden.textContent = visible
    ? "Live results need the host console: open this view from there."
    : "The results appear when the host reveals them.";
  let total = null;
  if (showBars) {
    total = renderAggregate(ui.bars, ui.summary, spec, aggregate);
  } else {
    ui.summary.hidden = true;
  }
  const people =
    (poll.participant_count || 0) + (poll.participant_count === 1 ? " participant" : " participants");
  const noun = spec.kind === "single" ? [" vote", " votes"] : [" answer", " answers"];
  ui.figures.textContent =
    total === null ? people : people + " · " + total + (total === 1 ? noun[0] : noun[1]);
  tick();
}

function tick() {
  const question = shown.question;
  const left =
    question && question.status === "open" && question.closes_at
      ? remainingMs(question.closes_at, shown.clockOffset, Date.now())
      : null;
  ui.countdown.hidden = left === null;
  if (left !== null) {
    ui.countdown.textContent = left <= 0 ? "Time is up" : formatClock(left) + " left";
    ui.countdown.dataset.state = left <= 0 ? "up" : left <= 10000 ? "soon" : "running";
  }
}

async function init() {
  if (!room) {
    ui.error.textContent = "This address does not name a poll.";
    return;
  }
  ui.room.textContent = room;
  ui.qr.src = "/api/polls/" + room + "/qr.svg";
  every(REFRESH_MS, refresh);
  window.setInterval(tick, TICK_MS);
  const link = await api("/api/polls/" + room + "/join");
  setUrlText(ui.link, link.ok ? link.data.join_url : "");
}

init();
