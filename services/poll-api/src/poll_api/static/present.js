// Zephyr presenter view: the question on screen, large, with its live aggregate in its kind's
// form (bars, a histogram and its mean, Borda points), the countdown and the join QR, for a
// projector. With the host token (this tab, or the console tab that opened it) it reads live
// results; without it, results once revealed. Results the host hides until the reveal are
// never projected before it. A quiz question's answers are projected once it closes: first its
// correct answer with the counts, then the leaderboard, and after the run's last quiz question
// the podium (quiz.js).
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
import {
  boardCaption,
  correctOf,
  correctText,
  isFinalBoard,
  markCorrect,
  quizPhase,
  renderLeaders,
  renderPodium,
} from "./quiz.js";
import { isLive, onLiveFrame, onLiveStatus, presenceText, startLive, stateDiffers } from "./host_live.js";
import { renderCloud } from "./wordcloud.js";

const REFRESH_MS = 1000;
const TICK_MS = 250;
const BOARD_TOP = 10;
const ANSWER_MS = 5000; // the correct answer and the counts, before the leaderboard
const BOARD_MS = 6000; // the last leaderboard, before the podium

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
  "correct",
  "board",
  "caption",
  "leaders",
  "podium",
  "places",
];
const ui = Object.fromEntries(PARTS.map((name) => [name, $("present-" + name)]));
ui.bars = $("bars");
ui.cloud = $("present-cloud");

const room = roomFromPath();
const token = room ? tokenFor(room) : null;
// quiz: the closed quiz question on screen ({key, since, drawn}), to step through its phases.
// poll, aggregate: what was drawn last (a live tally redraws with them); presence: the live
// connection's latest presence frame (host_live.js).
const shown = { question: null, clockOffset: 0, quiz: null, poll: null, aggregate: null, presence: null };

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
  const aggregate = visibleOf(poll, question) ? await aggregateOf(poll, question) : null;
  shown.poll = poll;
  shown.aggregate = aggregate;
  await draw();
}

/** Results the host has released may be projected; hidden ones never, live or not. */
function visibleOf(poll, question) {
  return !poll.hide_results_until_reveal || question.revealed;
}

/** Draw `shown.poll` and `shown.aggregate`. */
async function draw() {
  const poll = shown.poll;
  const run = questionsOf(poll);
  const current = Number.isInteger(poll.current) ? poll.current : 0;
  const question = run.find((q) => q.index === current) || run[0];
  const spec = question.spec;
  const visible = visibleOf(poll, question);
  const aggregate = visible ? shown.aggregate : null;
  const quiz = await quizOf(run, question, aggregate);
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
  // A quiz's answers are not projected while it is open: they would tell the room the answer.
  const quizOpen = spec.kind === "quiz" && question.status !== "closed";
  const phase = quiz ? quiz.phase : "answer";
  const showBars = visible && aggregate !== null && !quizOpen && phase === "answer";
  const cloud = spec.kind === "wordcloud"; // a word cloud is drawn as one (wordcloud.js)
  ui.bars.hidden = !showBars || cloud;
  ui.cloud.hidden = !showBars || !cloud;
  ui.hidden.hidden = showBars || phase !== "answer";
  ui.hidden.textContent = quizOpen
    ? "The answers appear when the question closes."
    : visible
      ? "Live results need the host console: open this view from there."
      : "The results appear when the host reveals them.";
  let total = null;
  if (visible && aggregate !== null && !quizOpen) {
    total = cloud
      ? renderCloud(ui.cloud, aggregate)
      : renderAggregate(ui.bars, ui.summary, spec, aggregate);
    markCorrect(ui.bars, quiz ? quiz.correct : null);
  }
  if (!showBars || cloud) {
    ui.summary.hidden = true;
  }
  renderQuiz(quiz);
  const people =
    (poll.participant_count || 0) + (poll.participant_count === 1 ? " participant" : " participants");
  const noun = spec.kind === "single" ? [" vote", " votes"] : [" answer", " answers"];
  ui.figures.textContent = shown.presence
    ? presenceText(shown.presence)
    : total === null
      ? people
      : people + " · " + total + (total === 1 ? noun[0] : noun[1]);
  tick();
}

/** The quiz step of a closed quiz question on screen: its phase, correct options and board. */
async function quizOf(run, question, aggregate) {
  if (question.spec.kind !== "quiz" || question.status !== "closed") {
    shown.quiz = null;
    return null;
  }
  const result = await api("/api/polls/" + room + "/leaderboard?top=" + BOARD_TOP);
  const board = result.ok ? result.data : null;
  const key = question.qid + ":" + question.epoch;
  if (!shown.quiz || shown.quiz.key !== key) {
    shown.quiz = { key, since: Date.now(), drawn: null };
  }
  const scored = Boolean(board && board.qid === question.qid && board.version > 0);
  const final = scored && isFinalBoard(board, run);
  const phase = quizPhase(Date.now() - shown.quiz.since, scored, final, ANSWER_MS, BOARD_MS);
  return { board, phase, correct: correctOf(question, board, aggregate) };
}

function renderQuiz(quiz) {
  const question = shown.question;
  const text = quiz ? correctText(question.spec, quiz.correct) : "";
  // The answer's step shows it; the leaderboard and the podium then take its room.
  ui.correct.hidden = !text || quiz.phase !== "answer";
  ui.correct.textContent = text;
  ui.board.hidden = !quiz || quiz.phase !== "board";
  ui.podium.hidden = !quiz || quiz.phase !== "podium";
  if (!quiz || quiz.phase === "answer") {
    return;
  }
  const drawn = quiz.phase + ":" + quiz.board.version;
  const fresh = shown.quiz.drawn !== drawn;
  shown.quiz.drawn = drawn;
  if (quiz.phase === "board") {
    ui.caption.textContent = boardCaption(quiz.board);
    renderLeaders(ui.leaders, quiz.board.top, fresh);
  } else if (fresh) {
    renderPodium(ui.places, quiz.board.top);
  }
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
  // While the live connection is up, its frames redraw the view; a closed quiz question still
  // reads here (its answer, leaderboard and podium steps follow the leaderboard and the clock).
  every(REFRESH_MS, () => (isLive() && !shown.quiz ? null : refresh()));
  window.setInterval(tick, TICK_MS);
  const link = await api("/api/polls/" + room + "/join");
  setUrlText(ui.link, link.ok ? link.data.join_url : "");
  if (token && link.ok) {
    followLive();
    startLive(room, () => token, link.data.join_url);
  }
}

function followLive() {
  let pending = null;
  onLiveStatus((up) => (up ? refresh() : null)); // once: what changed while it was down
  onLiveFrame("poll_state", (frame) => {
    if (pending === null && stateDiffers(shown.poll, frame)) {
      pending = window.setTimeout(() => {
        pending = null;
        refresh();
      }, 100);
    }
  });
  onLiveFrame("tally", (frame) => {
    const question = shown.question;
    if (!shown.poll || !question || frame.qid !== question.qid || !visibleOf(shown.poll, question)) {
      return; // another question, or results the host has not released
    }
    const { type, question: index, ...aggregate } = frame;
    shown.aggregate = Object.assign({}, shown.aggregate, aggregate);
    draw();
  });
  onLiveFrame("presence", (frame) => {
    shown.presence = frame;
    if (shown.poll) {
      draw();
    }
  });
}

init();
