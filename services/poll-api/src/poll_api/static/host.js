// Zephyr host console: create a poll as a run of questions, share it, show and control each
// question, watch every question's live results, export them.
import {
  $,
  KIND_TEXT,
  STATUS_TEXT,
  api,
  describeError,
  every,
  forgetToken,
  formatClock,
  questionsOf,
  remainingMs,
  renderAggregate,
  resultsByQid,
  roomFromPath,
  saveToken,
  setUrlText,
  settingsText,
  tokenFor,
} from "./common.js";
import { accountToken, onAccountToken, showAccount } from "./host_account.js";
import { startHostLinks } from "./host_links.js";
import { followLive } from "./host_follow.js";
import { isLive, startLive, stopLive } from "./host_live.js";
import { qaSettings } from "./host_qa.js";
import { boardCaption, correctOf, correctText, markCorrect, renderBoardTable } from "./quiz.js";
import { refreshWords, wordcloudSettings } from "./host_words.js";

const REFRESH_MS = 1000;
const TICK_MS = 250;
const BOARD_ROWS = 1000; // the console's full table (the API's most)
const MIN_OPTIONS = 2;
const MAX_OPTIONS = 20;
const MAX_RANKING_OPTIONS = 10;
const MAX_QUESTIONS = 50;
const EDITABLE_KINDS = ["single", "multiple", "rating", "ranking", "wordcloud", "quiz"];
const QUIZ_POINTS = [1000, 2000, 0];
const WITH_OPTIONS = ["single", "multiple", "ranking", "quiz"];
const SHORT_STATUS = { draft: "Draft", open: "Open", closed: "Closed" };

const ui = {
  apiStatus: $("api-status"),
  createView: $("create-view"),
  createForm: $("create-form"),
  title: $("poll-title"),
  drafts: $("question-drafts"),
  addQuestion: $("add-question"),
  hideResults: $("hide-results"),
  createButton: $("create-button"),
  createError: $("create-error"),
  tokenView: $("token-view"),
  tokenRoom: $("token-room"),
  tokenForm: $("token-form"),
  tokenInput: $("token-input"),
  tokenError: $("token-error"),
  consoleView: $("console-view"),
  heading: $("poll-heading"),
  status: $("poll-status"),
  revealed: $("poll-revealed"),
  countdown: $("countdown"),
  question: $("poll-question"),
  settings: $("poll-settings"),
  participants: $("participants"),
  presence: $("live-presence"),
  totalVotes: $("total-votes"),
  totalLabel: $("total-label"),
  stepper: $("stepper"),
  previous: $("show-previous"),
  next: $("show-next"),
  actionNote: $("action-note"),
  bars: $("bars"),
  summary: $("aggregate-summary"),
  words: $("words-panel"),
  list: $("question-list"),
  appendBox: $("append-box"),
  appendForm: $("append-form"),
  appendDraft: $("append-draft"),
  appendButton: $("append-button"),
  appendError: $("append-error"),
  downloadCsv: $("download-csv"),
  correct: $("poll-correct"),
  board: $("quiz-board"),
  boardCaption: $("quiz-board-caption"),
  boardRows: $("quiz-board-rows"),
  downloadBoard: $("download-board"),
  roomCode: $("room-code"),
  qr: $("qr"),
  joinLink: $("join-link"),
  presentLink: $("present-link"),
  tokenValue: $("token-value"),
  actions: Array.from(document.querySelectorAll(".actions button[data-action]")),
};

const state = {
  room: null,
  token: null,
  poll: null,
  results: {}, // qid -> the question's aggregate from GET /results
  board: null, // GET /leaderboard?top=1000 (the quiz's full table)
  boardClosed: null, // the closed quiz questions (qid:epoch) when the board was read; null: never
  clockOffset: 0, // server clock − this machine's, from the last answer
  busy: false,
  stop: null,
  ticker: null,
  refreshSeq: 0,
  renderedSeq: 0,
  editing: new Set(), // qids whose editor is open: the refresh leaves them alone
  presence: null, // the live connection's latest presence frame (host_live.js)
};

// ---- question drafts (the editor of one question, used to create, append and edit) -----------

let draftSerial = 0;
const editors = new WeakMap(); // draft <li> -> {read, setNumber}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** A labelled control (and its hint) in its own block, appended to `box`; returns the control. */
function field(box, id, labelText, control, hint) {
  const wrap = el("div", "field");
  const label = el("label", "", labelText);
  label.htmlFor = id;
  control.id = id;
  wrap.append(label, control);
  if (hint) {
    const p = el("p", "hint", hint);
    p.id = id + "-hint";
    control.setAttribute("aria-describedby", p.id);
    wrap.append(p);
  }
  box.append(wrap);
  return control;
}

function numberInput(name, min, max) {
  const input = document.createElement("input");
  input.type = "number";
  input.inputMode = "numeric";
  input.min = String(min);
  input.max = String(max);
  input.step = "1";
  input.dataset.field = name;
  return input;
}

function textInput(name, maxLength) {
  const input = document.createElement("input");
  input.maxLength = maxLength;
  input.dataset.field = name;
  input.autocomplete = "off";
  return input;
}

/**
 * A question editor as an <li>: kind, text, the kind's settings, an optional time limit.
 * `tools`: show Move up / Move down / Remove (the create form's list).
 */
function makeDraft(spec, { tools = false } = {}) {
  draftSerial += 1;
  const id = "d" + draftSerial;
  const item = el("li", "draft");
  const box = el("fieldset", "draft-box");
  const legend = el("legend", "draft-title");
  box.append(legend);

  const kind = document.createElement("select");
  kind.dataset.field = "kind";
  for (const name of EDITABLE_KINDS) {
    const option = el("option", "", KIND_TEXT[name]);
    option.value = name;
    kind.append(option);
  }
  const head = el("div", "draft-head");
  field(head, id + "-kind", "Kind", kind);
  box.append(head);

  const prompt = document.createElement("textarea");
  prompt.rows = 2;
  prompt.maxLength = 300;
  prompt.dataset.field = "prompt";
  const promptLabel = el("label", "", "Question");
  const promptNumber = el("span", "visually-hidden", "");
  promptLabel.append(promptNumber);
  promptLabel.htmlFor = id + "-prompt";
  prompt.id = id + "-prompt";
  box.append(promptLabel, prompt);

  // Options (single, multiple, ranking, quiz: each with its "correct" box).
  const optionsBox = el("fieldset", "option-inputs s-options");
  const optionsLegend = el("legend", "", "Options (2 to 20)");
  const optionList = el("ol", "option-list");
  const addOption = el("button", "secondary", "Add an option");
  addOption.type = "button";
  optionsBox.append(optionsLegend, optionList, addOption);
  box.append(optionsBox);
  const maxOptions = () => (kind.value === "ranking" ? MAX_RANKING_OPTIONS : MAX_OPTIONS);
  const addOptionInput = (value = "") => {
    const count = optionList.children.length;
    if (count >= maxOptions()) {
      return null;
    }
    const li = document.createElement("li");
    const inputId = id + "-option-" + (count + 1);
    const label = el("label", "visually-hidden", "Option " + (count + 1));
    label.htmlFor = inputId;
    const input = document.createElement("input");
    input.id = inputId;
    input.maxLength = 120;
    input.value = value;
    input.placeholder = "Option " + (count + 1);
    input.dataset.field = "option";
    const mark = document.createElement("input");
    mark.type = "checkbox";
    mark.id = inputId + "-correct";
    mark.dataset.field = "correct";
    const markLabel = el("label", "correct-mark", "Correct");
    markLabel.prepend(mark);
    markLabel.htmlFor = mark.id;
    li.append(label, input, markLabel);
    optionList.append(li);
    addOption.disabled = optionList.children.length >= maxOptions();
    return input;
  };
  addOption.addEventListener("click", () => {
    const input = addOptionInput();
    if (input) {
      input.focus();
    }
  });

  // Multiple choice: how many choices.
  const multipleBox = el("div", "settings-grid s-multiple");
  const minChoices = field(
    multipleBox,
    id + "-min-choices",
    "Fewest choices",
    numberInput("min_choices", 1, 20),
    "Empty: 1."
  );
  const maxChoices = field(
    multipleBox,
    id + "-max-choices",
    "Most choices",
    numberInput("max_choices", 1, 20),
    "Empty: as many as there are options."
  );
  box.append(multipleBox);

  // Rating: the scale and its end labels.
  const ratingBox = el("div", "settings-grid s-rating");
  const ratingMin = document.createElement("select");
  ratingMin.dataset.field = "min";
  for (const value of [0, 1]) {
    const option = el("option", "", String(value));
    option.value = String(value);
    ratingMin.append(option);
  }
  field(ratingBox, id + "-min", "Lowest value", ratingMin);
  const ratingMax = field(ratingBox, id + "-max", "Highest value", numberInput("max", 2, 10), "2 to 10.");
  const minLabel = field(ratingBox, id + "-min-label", "Label of the lowest value (optional)", textInput("min_label", 120));
  const maxLabel = field(ratingBox, id + "-max-label", "Label of the highest value (optional)", textInput("max_label", 120));
  box.append(ratingBox);

  // Ranking: how many places.
  const rankingBox = el("div", "settings-grid s-ranking");
  const rankCount = field(
    rankingBox,
    id + "-rank-count",
    "Places to rank",
    numberInput("rank_count", 1, 10),
    "Empty: every option is ranked."
  );
  box.append(rankingBox);

  // Quiz: the points of a correct answer (the correct options are ticked above).
  const quizBox = el("div", "settings-grid s-quiz");
  const points = document.createElement("select");
  points.dataset.field = "points";
  for (const value of QUIZ_POINTS) {
    const option = el("option", "", value === 0 ? "No points" : value + " points");
    option.value = String(value);
    points.append(option);
  }
  field(quizBox, id + "-points", "Points for a correct answer", points, "Less the slower the answer: half of it at the last second.");
  box.append(quizBox);

  // Word cloud: entries, the profanity filter, banned words (host_words.js).
  const words = wordcloudSettings(id, spec && spec.kind === "wordcloud" ? spec : null, field);
  box.append(words.box);

  const timeBox = el("div", "settings-grid");
  const timeLimit = field(
    timeBox,
    id + "-time-limit",
    "Time limit in seconds (optional)",
    numberInput("time_limit_s", 5, 600),
    "5 to 600: voting closes by itself when the time is up."
  );
  const timeLabel = timeBox.querySelector("label");
  box.append(timeBox);

  let toolbar = null;
  if (tools) {
    toolbar = el("div", "draft-tools");
    for (const [role, text] of [
      ["up", "Move up"],
      ["down", "Move down"],
      ["remove", "Remove"],
    ]) {
      const button = el("button", role === "remove" ? "danger small" : "secondary small", text);
      button.type = "button";
      button.dataset.tool = role;
      toolbar.append(button);
    }
    box.append(toolbar);
  }
  item.append(box);

  const showKind = () => {
    const k = kind.value;
    item.dataset.kind = k;
    optionsBox.hidden = !WITH_OPTIONS.includes(k);
    multipleBox.hidden = k !== "multiple";
    quizBox.hidden = k !== "quiz";
    words.box.hidden = k !== "wordcloud";
    timeLabel.textContent = k === "quiz" ? "Time limit in seconds" : "Time limit in seconds (optional)";
    ratingBox.hidden = k !== "rating";
    rankingBox.hidden = k !== "ranking";
    optionsLegend.textContent = k === "ranking" ? "Options (2 to 10)" : "Options (2 to 20)";
    while (optionList.children.length > maxOptions()) {
      const last = optionList.lastElementChild;
      if (last.querySelector("input").value.trim()) {
        break; // never drop what was typed; the check on create says what is too many
      }
      last.remove();
    }
    addOption.disabled = optionList.children.length >= maxOptions();
  };
  kind.addEventListener("change", showKind);

  // Fill in from a spec (editing) or with the defaults.
  const initial = spec || { kind: "single" };
  kind.value = EDITABLE_KINDS.includes(initial.kind) ? initial.kind : "single";
  prompt.value = initial.prompt || "";
  const correct = new Set(initial.correct || []);
  (initial.options || []).forEach((text, index) => {
    const input = addOptionInput(text);
    if (input && correct.has(index)) {
      input.parentElement.querySelector("input[data-field=correct]").checked = true;
    }
  });
  while (optionList.children.length < MIN_OPTIONS) {
    addOptionInput();
  }
  const setNumber = (input, value) => {
    input.value = Number.isInteger(value) ? String(value) : "";
  };
  setNumber(minChoices, initial.min_choices);
  setNumber(maxChoices, initial.max_choices);
  ratingMin.value = initial.min === 0 ? "0" : "1";
  setNumber(ratingMax, Number.isInteger(initial.max) ? initial.max : 5);
  minLabel.value = initial.min_label || "";
  maxLabel.value = initial.max_label || "";
  setNumber(rankCount, initial.rank_count);
  setNumber(timeLimit, initial.time_limit_s);
  points.value = QUIZ_POINTS.includes(initial.points) ? String(initial.points) : "1000";
  showKind();

  const intOf = (input, name, problems) => {
    const raw = input.value.trim();
    if (raw === "") {
      return undefined;
    }
    const value = Number(raw);
    if (!Number.isInteger(value)) {
      problems.push(name + " must be a whole number");
      return undefined;
    }
    return value;
  };

  /**
   * The question as the API takes it, or {error, focus} saying what to fix first. With
   * `clearing`, an optional setting left empty is sent as null (a PATCH merges the fields given
   * onto the stored spec, so leaving one out would keep its old value).
   */
  const read = ({ clearing = false } = {}) => {
    const result = readSpec();
    if (!clearing || !result.spec) {
      return result;
    }
    const optional = {
      single: [],
      multiple: ["max_choices"],
      rating: ["min_label", "max_label"],
      ranking: ["rank_count"],
    };
    for (const name of ["time_limit_s", ...(optional[result.spec.kind] || [])]) {
      if (result.spec[name] === undefined) {
        result.spec[name] = null;
      }
    }
    if (result.spec.kind === "multiple" && result.spec.min_choices === undefined) {
      result.spec.min_choices = 1; // not nullable: its default
    }
    return result;
  };

  const readSpec = () => {
    const k = kind.value;
    const text = prompt.value.trim();
    if (!text) {
      return { error: "Write the question.", focus: prompt };
    }
    const out = { kind: k, prompt: text };
    const problems = [];
    if (WITH_OPTIONS.includes(k)) {
      const rows = Array.from(optionList.children)
        .map((li) => ({
          text: li.querySelector("input[data-field=option]").value.trim(),
          correct: li.querySelector("input[data-field=correct]").checked,
        }))
        .filter((row) => row.text.length > 0);
      out.options = rows.map((row) => row.text);
      if (out.options.length < MIN_OPTIONS) {
        return { error: "Give at least two options.", focus: optionList.querySelector("input") };
      }
      if (k === "quiz") {
        out.correct = rows.flatMap((row, index) => (row.correct ? [index] : []));
        if (out.correct.length === 0) {
          return { error: "Tick the correct option (or options).", focus: optionList.querySelector("input[data-field=correct]") };
        }
        out.points = Number(points.value);
      }
    }
    if (k === "multiple") {
      const low = intOf(minChoices, "Fewest choices", problems);
      const high = intOf(maxChoices, "Most choices", problems);
      if (low !== undefined) {
        out.min_choices = low;
      }
      if (high !== undefined) {
        out.max_choices = high;
      }
      const lowest = low === undefined ? 1 : low;
      const highest = high === undefined ? out.options.length : high;
      if (!(lowest >= 1 && lowest <= highest && highest <= out.options.length)) {
        problems.push(
          "choices must be 1 ≤ fewest ≤ most ≤ the number of options (" + out.options.length + ")"
        );
      }
    }
    if (k === "rating") {
      out.min = Number(ratingMin.value);
      const high = intOf(ratingMax, "Highest value", problems);
      out.max = high === undefined ? 5 : high;
      if (!(out.max > out.min && out.max <= 10)) {
        problems.push("the highest value must be above the lowest and at most 10");
      }
      if (minLabel.value.trim()) {
        out.min_label = minLabel.value.trim();
      }
      if (maxLabel.value.trim()) {
        out.max_label = maxLabel.value.trim();
      }
    }
    if (k === "wordcloud") {
      words.read(out, problems);
    }
    if (k === "ranking") {
      const places = intOf(rankCount, "Places to rank", problems);
      if (places !== undefined) {
        out.rank_count = places;
        if (!(places >= 1 && places <= out.options.length)) {
          problems.push("places to rank must be 1 to the number of options (" + out.options.length + ")");
        }
      }
    }
    const limit = intOf(timeLimit, "Time limit", problems);
    if (k === "quiz" && limit === undefined && problems.length === 0) {
      return { error: "A quiz question needs a time limit (5 to 600 seconds).", focus: timeLimit };
    }
    if (limit !== undefined) {
      out.time_limit_s = limit;
      if (!(limit >= 5 && limit <= 600)) {
        problems.push("the time limit must be 5 to 600 seconds");
      }
    }
    if (problems.length > 0) {
      return { error: problems[0].charAt(0).toUpperCase() + problems[0].slice(1) + "." };
    }
    return { spec: out };
  };

  const setNumberText = (n) => {
    legend.textContent = n === null ? "Question" : "Question " + n;
    promptNumber.textContent = n === null ? "" : " " + n;
  };
  editors.set(item, { read, setNumber: setNumberText, toolbar, prompt });
  setNumberText(null);
  return item;
}

function renumberDrafts() {
  const items = Array.from(ui.drafts.children);
  items.forEach((item, i) => {
    const editor = editors.get(item);
    editor.setNumber(i + 1);
    if (editor.toolbar) {
      editor.toolbar.querySelector("[data-tool=up]").disabled = i === 0;
      editor.toolbar.querySelector("[data-tool=down]").disabled = i === items.length - 1;
      editor.toolbar.querySelector("[data-tool=remove]").disabled = items.length === 1;
    }
  });
  ui.addQuestion.disabled = items.length >= MAX_QUESTIONS;
}

function addDraft(spec) {
  const item = makeDraft(spec, { tools: true });
  ui.drafts.append(item);
  renumberDrafts();
  return item;
}

function onDraftTool(event) {
  const button = event.target.closest("button[data-tool]");
  if (!button) {
    return;
  }
  const item = button.closest("li.draft");
  const tool = button.dataset.tool;
  if (tool === "remove" && ui.drafts.children.length > 1) {
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    renumberDrafts();
    editors.get(next).prompt.focus();
    return;
  }
  if (tool === "up" && item.previousElementSibling) {
    item.previousElementSibling.before(item);
  } else if (tool === "down" && item.nextElementSibling) {
    item.nextElementSibling.after(item);
  }
  renumberDrafts();
  if (!button.disabled) {
    button.focus(); // moving the item keeps the keyboard on the button pressed
  } else {
    item.querySelector("[data-tool=" + (tool === "up" ? "down" : "up") + "]").focus();
  }
}

// ---- create -------------------------------------------------------------------------------

function showCreate() {
  showAccount();
  ui.createView.hidden = false;
  ui.tokenView.hidden = true;
  ui.consoleView.hidden = true;
  if (ui.drafts.children.length === 0) {
    addDraft(null);
  }
  editors.get(ui.drafts.firstElementChild).prompt.focus();
}

async function onCreate(event) {
  event.preventDefault();
  const questions = [];
  const items = Array.from(ui.drafts.children);
  for (const [i, item] of items.entries()) {
    const read = editors.get(item).read();
    if (read.error) {
      ui.createError.textContent =
        (items.length > 1 ? "Question " + (i + 1) + ": " : "") + read.error;
      if (read.focus) {
        read.focus.focus();
      }
      return;
    }
    questions.push(read.spec);
  }
  const body = {
    questions,
    settings: { hide_results_until_reveal: ui.hideResults.checked, ...qaSettings() },
  };
  const title = ui.title.value.trim();
  if (title) {
    body.title = title;
  }
  ui.createButton.disabled = true;
  ui.createError.textContent = "";
  // Signed in: the poll belongs to the account (its host token works as well).
  const result = await api("/api/polls", { method: "POST", body, token: accountToken() });
  ui.createButton.disabled = false;
  if (!result.ok) {
    ui.createError.textContent = "Not created: " + describeError(result);
    return;
  }
  const created = result.data;
  saveToken(created.room_code, created.host_token);
  window.history.pushState(null, "", "/host/" + created.room_code);
  startConsole(created.room_code, created.host_token, created.join_url, created.poll);
}

// ---- token --------------------------------------------------------------------------------

function showTokenForm(room, message = "") {
  stopRefresh();
  ui.createView.hidden = true;
  ui.consoleView.hidden = true;
  ui.tokenView.hidden = false;
  ui.tokenRoom.textContent = room;
  ui.tokenError.textContent = message;
  ui.tokenInput.value = "";
  ui.tokenInput.focus();
}

function onToken(event) {
  event.preventDefault();
  const token = ui.tokenInput.value.trim();
  if (!token) {
    ui.tokenError.textContent = "Paste the host token.";
    return;
  }
  saveToken(state.room, token);
  startConsole(state.room, token, null, null);
}

// ---- console ------------------------------------------------------------------------------

function stopRefresh() {
  if (state.stop) {
    state.stop();
    state.stop = null;
  }
  window.clearInterval(state.ticker);
  state.ticker = null;
  stopLive();
}

async function startConsole(room, token, joinUrl, poll) {
  stopRefresh();
  Object.assign(state, { room, token, poll: null, results: {}, board: null, boardClosed: null });
  state.presence = null;
  state.editing.clear();
  ui.list.replaceChildren();
  ui.createView.hidden = true;
  ui.tokenView.hidden = true;
  ui.consoleView.hidden = false;
  ui.roomCode.textContent = room;
  ui.tokenValue.value = token;
  ui.presentLink.href = "/host/" + room + "/present";
  ui.qr.src = "/api/polls/" + room + "/qr.svg";
  resetAppendForm();
  if (poll && (poll.questions || poll.question)) {
    state.poll = Object.assign({ participant_count: 0 }, poll);
    render();
  }
  ui.question.focus();
  // While the live connection is up its frames redraw the console (host_follow.js).
  state.stop = every(REFRESH_MS, () => (isLive() ? null : refresh()));
  state.ticker = window.setInterval(renderCountdowns, TICK_MS);
  if (!joinUrl) {
    const link = await api("/api/polls/" + room + "/join");
    joinUrl = link.ok ? link.data.join_url : null;
  }
  setUrlText(ui.joinLink, joinUrl || "(no public join URL is configured)");
  ui.joinLink.href = joinUrl || "#";
  startHostLinks(room, token);
  startLive(room, () => state.token, joinUrl);
}

async function refresh() {
  const room = state.room;
  const seq = ++state.refreshSeq;
  const [pollResult, resultsResult] = await Promise.all([
    api("/api/polls/" + room),
    api("/api/polls/" + room + "/results", { token: state.token }),
  ]);
  if (room !== state.room || seq < state.renderedSeq) {
    return; // another poll now, or a later refresh already drew newer data
  }
  if (pollResult.status === 0 || resultsResult.status === 0) {
    setApiStatus("offline", "Cannot reach the server. Retrying…");
    return;
  }
  if (pollResult.status === 404) {
    stopRefresh();
    forgetToken(room);
    setApiStatus("offline", "No poll has the room code " + room + ".");
    return;
  }
  if (resultsResult.status === 401 || resultsResult.status === 403) {
    forgetToken(room);
    showTokenForm(room, "That host token is not valid for this poll.");
    return;
  }
  if (!pollResult.ok || !resultsResult.ok) {
    setApiStatus("offline", describeError(pollResult.ok ? resultsResult : pollResult));
    return;
  }
  state.renderedSeq = seq;
  setApiStatus("live", "Live");
  if (pollResult.clockOffset !== null) {
    state.clockOffset = pollResult.clockOffset;
  }
  state.poll = pollResult.data;
  state.results = resultsByQid(resultsResult.data, questionsOf(state.poll));
  render();
  await refreshBoard(room);
  await refreshWords(ui.words, room, state.token, currentQuestion()); // host_words.js
}

/**
 * The quiz's full table: read again when the set of closed quiz questions changed, or when the
 * board's version did (a one-row read each round tells that cheaply).
 */
async function refreshBoard(room) {
  const run = questions();
  const hasQuiz = run.some((q) => q.spec.kind === "quiz");
  ui.board.hidden = !hasQuiz;
  if (!hasQuiz) {
    return;
  }
  const closed = run
    .filter((q) => q.spec.kind === "quiz" && q.status === "closed")
    .map((q) => q.qid + ":" + q.epoch)
    .join(",");
  let stale = closed !== state.boardClosed;
  if (!stale && closed) {
    const probe = await api("/api/polls/" + room + "/leaderboard?top=1");
    stale = probe.ok && (!state.board || probe.data.version !== state.board.version);
  }
  if (!stale) {
    return;
  }
  const full = await api("/api/polls/" + room + "/leaderboard?top=" + BOARD_ROWS);
  if (full.ok && room === state.room) {
    state.board = full.data;
    state.boardClosed = closed;
    renderBoard();
    render(); // the correct options of the question scored last
  }
}

function renderBoard() {
  const board = state.board;
  ui.boardCaption.textContent = boardCaption(board);
  renderBoardTable(ui.boardRows, board ? board.top : []);
  ui.downloadBoard.disabled = !board || board.top.length === 0;
}

function setApiStatus(kind, text) {
  ui.apiStatus.dataset.state = kind;
  ui.apiStatus.textContent = text;
}

function questions() {
  return state.poll ? questionsOf(state.poll) : [];
}

function currentQuestion() {
  if (!state.poll) {
    return null; // not loaded yet (a console opened by its link): nothing to act on
  }
  const run = questions();
  const current = Number.isInteger(state.poll.current) ? state.poll.current : 0;
  return run.find((q) => q.index === current) || run[0] || null;
}

function timeLeft(question) {
  if (!question || question.status !== "open" || !question.closes_at) {
    return null;
  }
  return remainingMs(question.closes_at, state.clockOffset, Date.now());
}

function countdownText(left) {
  return left <= 0 ? "Time is up" : "Closes in " + formatClock(left);
}

function render() {
  const poll = state.poll;
  const question = currentQuestion();
  if (!poll || !question) {
    return;
  }
  const run = questions();
  const spec = question.spec;
  ui.heading.textContent =
    (poll.title ? poll.title + " · " : "") +
    "Question " + (question.index + 1) + " of " + run.length + " · " + (KIND_TEXT[spec.kind] || spec.kind);
  ui.question.textContent = spec.prompt;
  ui.settings.textContent = settingsText(spec);
  document.title = "Host: " + spec.prompt;
  ui.status.dataset.status = question.status;
  ui.status.textContent = STATUS_TEXT[question.status] || question.status;
  ui.revealed.hidden = !question.revealed;
  ui.participants.textContent = String(state.presence ? state.presence.joined : poll.participant_count || 0);
  const total = renderAggregate(ui.bars, ui.summary, spec, state.results[question.qid]);
  const correct = correctOf(question, state.board, state.results[question.qid]);
  markCorrect(ui.bars, correct);
  ui.correct.textContent = correctText(spec, correct);
  ui.correct.hidden = !ui.correct.textContent;
  ui.totalVotes.textContent = String(total);
  ui.totalLabel.textContent = spec.kind === "single" ? "Votes" : "Answers";
  ui.stepper.hidden = run.length < 2;
  const allowed = {
    open: question.status !== "open",
    close: question.status === "open",
    reveal: !question.revealed,
    reset: question.status !== "draft" || question.revealed || total > 0,
  };
  for (const button of ui.actions) {
    button.disabled = state.busy || !allowed[button.dataset.action];
  }
  ui.previous.disabled = state.busy || question.index === 0;
  ui.next.disabled = state.busy || question.index >= run.length - 1;
  ui.appendButton.disabled = state.busy || run.length >= MAX_QUESTIONS;
  renderList(run, question);
  renderCountdowns();
}

function renderCountdowns() {
  if (!state.poll) {
    return;
  }
  const current = currentQuestion();
  const left = timeLeft(current);
  ui.countdown.hidden = left === null;
  if (left !== null) {
    ui.countdown.textContent = countdownText(left);
    ui.countdown.dataset.state = left <= 0 ? "up" : left <= 10000 ? "soon" : "running";
  }
  for (const question of questions()) {
    const item = ui.list.querySelector("li[data-qid='" + question.qid + "']");
    const node = item ? item.querySelector(".countdown") : null;
    if (!node) {
      continue;
    }
    const mine = timeLeft(question);
    node.hidden = mine === null;
    if (mine !== null) {
      node.textContent = countdownText(mine);
      node.dataset.state = mine <= 0 ? "up" : mine <= 10000 ? "soon" : "running";
    }
  }
}

// ---- the run: one item per question, kept between refreshes (focus stays put) -------------

const RUN_ACTIONS = [
  ["show", "Show"],
  ["open", "Open"],
  ["close", "Close"],
  ["reveal", "Reveal"],
  ["reset", "Reset"],
  ["edit", "Edit"],
  ["delete", "Delete"],
  ["up", "Move up"],
  ["down", "Move down"],
];

function runItem(qid) {
  const item = el("li", "run-item");
  item.dataset.qid = String(qid);
  const head = el("div", "run-head");
  const number = el("span", "run-number");
  const status = el("span", "status");
  const revealed = el("span", "revealed", "Revealed");
  const current = el("span", "current-mark", "On screen");
  const countdown = el("span", "countdown");
  countdown.setAttribute("role", "timer");
  countdown.hidden = true;
  head.append(number, status, revealed, current, countdown);
  const prompt = el("p", "run-prompt");
  prompt.id = "run-" + qid + "-prompt";
  const settings = el("p", "run-settings");
  const bars = el("ul", "bars small");
  bars.setAttribute("aria-label", "Live results");
  const summary = el("p", "summary");
  summary.hidden = true;
  const actions = el("div", "run-actions");
  for (const [action, text] of RUN_ACTIONS) {
    const button = el("button", action === "delete" || action === "reset" ? "danger small" : "secondary small", text);
    button.type = "button";
    button.dataset.action = action;
    // The visible word is the name; the question's text says which one it acts on.
    button.setAttribute("aria-describedby", prompt.id);
    actions.append(button);
  }
  const editor = el("div", "run-editor");
  editor.hidden = true;
  item.append(head, prompt, settings, bars, summary, actions, editor);
  return item;
}

function renderList(run, current) {
  const seen = new Set();
  let previous = null;
  for (const question of run) {
    seen.add(question.qid);
    let item = ui.list.querySelector("li[data-qid='" + question.qid + "']");
    if (!item) {
      item = runItem(question.qid);
    }
    // Keep the DOM order the run's order, moving as little as possible.
    const wanted = previous ? previous.nextElementSibling : ui.list.firstElementChild;
    if (wanted !== item) {
      if (previous) {
        previous.after(item);
      } else {
        ui.list.prepend(item);
      }
    }
    previous = item;
    updateRunItem(item, question, current, run.length);
  }
  for (const item of Array.from(ui.list.children)) {
    if (!seen.has(Number(item.dataset.qid))) {
      state.editing.delete(Number(item.dataset.qid));
      item.remove();
    }
  }
}

function updateRunItem(item, question, current, count) {
  const spec = question.spec;
  const isCurrent = question.qid === current.qid;
  item.dataset.index = String(question.index);
  item.dataset.status = question.status;
  item.classList.toggle("is-current", isCurrent);
  item.querySelector(".run-number").textContent = String(question.index + 1) + ".";
  const status = item.querySelector(".status");
  status.dataset.status = question.status;
  status.textContent = SHORT_STATUS[question.status] || question.status;
  item.querySelector(".revealed").hidden = !question.revealed;
  item.querySelector(".current-mark").hidden = !isCurrent;
  item.querySelector(".run-prompt").textContent = spec.prompt;
  item.querySelector(".run-settings").textContent =
    (KIND_TEXT[spec.kind] || spec.kind) + (settingsText(spec) ? " · " + settingsText(spec) : "");
  const total = renderAggregate(
    item.querySelector(".bars"),
    item.querySelector(".summary"),
    spec,
    state.results[question.qid]
  );
  markCorrect(item.querySelector(".bars"), correctOf(question, state.board, state.results[question.qid]));
  const editable = !question.ever_opened && EDITABLE_KINDS.includes(spec.kind);
  const editing = state.editing.has(question.qid);
  const allowed = {
    show: !isCurrent,
    open: question.status !== "open",
    close: question.status === "open",
    reveal: !question.revealed,
    reset: question.status !== "draft" || question.revealed || total > 0,
    edit: editable && !editing,
    delete: editable && count > 1,
    up: question.index > 0,
    down: question.index < count - 1,
  };
  for (const button of item.querySelectorAll(".run-actions button")) {
    const action = button.dataset.action;
    // Edit and Delete only exist for a question never opened: hide rather than grey them out.
    button.hidden =
      ((action === "edit" || action === "delete") && !editable) ||
      ((action === "up" || action === "down") && count < 2);
    button.disabled = state.busy || !allowed[action];
  }
}

async function runQuestionAction(question, action) {
  const base = "/api/polls/" + state.room + "/questions/" + question.index;
  const number = "question " + (question.index + 1);
  if (action === "reset" && !window.confirm("Reset discards every answer to " + number + ". Reset it?")) {
    return;
  }
  if (action === "delete" && !window.confirm("Delete " + number + " from the run?")) {
    return;
  }
  if (action === "edit") {
    openEditor(question);
    return;
  }
  let request;
  if (action === "delete") {
    request = { path: base, method: "DELETE" };
  } else if (action === "up" || action === "down") {
    const to = question.index + (action === "up" ? -1 : 1);
    request = { path: base + "/move", method: "POST", body: { to } };
  } else {
    request = { path: base + "/" + action, method: "POST" };
  }
  const result = await hostRequest(request, actionDone[action](question.index + 1));
  if (result.ok) {
    keepFocus(question.qid, action);
  }
}

/** After a move or a delete the item's node moved or went: put the keyboard back near it. */
function keepFocus(qid, action) {
  if (action === "delete") {
    ui.question.focus();
    return;
  }
  if (action !== "up" && action !== "down") {
    return;
  }
  const item = ui.list.querySelector("li[data-qid='" + qid + "']");
  if (!item) {
    return;
  }
  const same = item.querySelector("button[data-action=" + action + "]");
  const other = item.querySelector("button[data-action=" + (action === "up" ? "down" : "up") + "]");
  (same && !same.disabled ? same : other).focus();
}

/** A host request, then a refresh so every screen part shows the new state. */
async function hostRequest({ path, method, body }, doneText) {
  // The buttons are disabled while the request runs, which takes the focus off the one
  // pressed: give it back afterwards (or to its group's first button still usable).
  const active = document.activeElement;
  state.busy = true;
  render();
  const result = await api(path, { method, token: state.token, body });
  state.busy = false;
  ui.actionNote.textContent = result.ok ? doneText : "Not done: " + describeError(result);
  render();
  if (result.ok) {
    await refresh();
  }
  restoreFocus(active);
  return result;
}

function restoreFocus(active) {
  const lost = document.activeElement === null || document.activeElement === document.body;
  if (!lost || !active || !active.isConnected || active.tagName !== "BUTTON") {
    return;
  }
  if (!active.disabled && !active.hidden) {
    active.focus();
    return;
  }
  const group = active.parentElement;
  const next = group
    ? Array.from(group.querySelectorAll("button")).find((b) => !b.disabled && !b.hidden)
    : null;
  if (next) {
    next.focus();
  }
}

const actionDone = {
  show: (n) => "Question " + n + " is on the participants' screens now.",
  open: (n) => "Voting is open on question " + n + ".",
  close: (n) => "Voting is closed on question " + n + ".",
  reveal: (n) => "The results of question " + n + " are public now.",
  reset: (n) => "Question " + n + " was reset: its answers are gone and it is a draft again.",
  delete: (n) => "Question " + n + " was deleted.",
  up: (n) => "Question " + n + " moved up.",
  down: (n) => "Question " + n + " moved down.",
  save: (n) => "Question " + n + " was saved.",
  append: (n) => "Question " + n + " was added to the run.",
};

async function runCurrentAction(action) {
  const question = currentQuestion();
  if (question) {
    await runQuestionAction(question, action);
  }
}

async function step(delta) {
  const question = currentQuestion();
  const run = questions();
  const target = question ? run.find((q) => q.index === question.index + delta) : null;
  if (target) {
    await runQuestionAction(target, "show");
  }
}

// ---- editing a draft question in the run, and appending one ---------------------------------

async function openEditor(question) {
  const item = ui.list.querySelector("li[data-qid='" + question.qid + "']");
  if (!item) {
    return;
  }
  state.editing.add(question.qid);
  // The host view has the full settings (a public view may leave some out).
  const full = await api("/api/polls/" + state.room + "/questions", { token: state.token });
  let spec = question.spec;
  const list = full.ok ? (Array.isArray(full.data) ? full.data : full.data && full.data.questions) : null;
  const found = Array.isArray(list) ? list.find((q) => q && q.qid === question.qid) : null;
  if (found) {
    spec = found.spec || found;
  }
  const editor = item.querySelector(".run-editor");
  const form = el("form", "edit-form");
  form.noValidate = true;
  const drafts = el("ol", "drafts single");
  const draft = makeDraft(spec);
  editors.get(draft).setNumber(question.index + 1);
  drafts.append(draft);
  const save = el("button", "primary", "Save");
  save.type = "submit";
  const cancel = el("button", "secondary", "Cancel");
  cancel.type = "button";
  const error = el("p", "error");
  error.setAttribute("role", "alert");
  const row = el("p", "row tight");
  row.append(save, cancel);
  form.append(drafts, row, error);
  editor.replaceChildren(form);
  editor.hidden = false;
  const close = () => {
    state.editing.delete(question.qid);
    editor.hidden = true;
    editor.replaceChildren();
    render();
    const edit = item.querySelector("button[data-action=edit]");
    if (edit && !edit.hidden) {
      edit.focus();
    }
  };
  cancel.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const read = editors.get(draft).read({ clearing: true });
    if (read.error) {
      error.textContent = read.error;
      if (read.focus) {
        read.focus.focus();
      }
      return;
    }
    const index = Number(item.dataset.index);
    save.disabled = true;
    const result = await hostRequest(
      { path: "/api/polls/" + state.room + "/questions/" + index, method: "PATCH", body: read.spec },
      actionDone.save(index + 1)
    );
    save.disabled = false;
    if (result.ok) {
      close();
    } else {
      error.textContent = "Not saved: " + describeError(result);
    }
  });
  render();
  editors.get(draft).prompt.focus();
}

function resetAppendForm() {
  ui.appendDraft.replaceChildren(makeDraft(null));
  ui.appendError.textContent = "";
}

async function onAppend(event) {
  event.preventDefault();
  const draft = ui.appendDraft.firstElementChild;
  const read = editors.get(draft).read();
  if (read.error) {
    ui.appendError.textContent = read.error;
    if (read.focus) {
      read.focus.focus();
    }
    return;
  }
  ui.appendError.textContent = "";
  const result = await hostRequest(
    { path: "/api/polls/" + state.room + "/questions", method: "POST", body: read.spec },
    actionDone.append(questions().length + 1)
  );
  if (result.ok) {
    resetAppendForm();
  } else {
    ui.appendError.textContent = "Not added: " + describeError(result);
  }
}

async function downloadCsv(what = "results") {
  // A plain link cannot send the Authorization header: fetch the file, then save the blob.
  const response = await fetch("/api/polls/" + state.room + "/" + what + ".csv", {
    headers: { Authorization: "Bearer " + state.token },
    cache: "no-store",
    credentials: "omit",
  }).catch(() => null);
  if (!response || !response.ok) {
    ui.actionNote.textContent = "The CSV could not be downloaded. Try again.";
    return;
  }
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = "poll-" + state.room + "-" + what + ".csv";
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  ui.actionNote.textContent = "The CSV was downloaded.";
}

// ---- start --------------------------------------------------------------------------------

function init() {
  ui.createForm.addEventListener("submit", onCreate);
  ui.drafts.addEventListener("click", onDraftTool);
  ui.addQuestion.addEventListener("click", () => {
    const item = addDraft(null);
    editors.get(item).prompt.focus();
  });
  ui.tokenForm.addEventListener("submit", onToken);
  ui.appendForm.addEventListener("submit", onAppend);
  ui.downloadCsv.addEventListener("click", () => downloadCsv("results"));
  ui.downloadBoard.addEventListener("click", () => downloadCsv("leaderboard"));
  $("download-participants").addEventListener("click", () => downloadCsv("participants"));
  for (const button of ui.actions) {
    button.addEventListener("click", () => runCurrentAction(button.dataset.action));
  }
  ui.previous.addEventListener("click", () => step(-1));
  ui.next.addEventListener("click", () => step(1));
  ui.list.addEventListener("click", (event) => {
    const button = event.target.closest(".run-actions button[data-action]");
    if (!button || !state.poll) {
      return;
    }
    const qid = Number(button.closest("li.run-item").dataset.qid);
    const question = questions().find((q) => q.qid === qid);
    if (question) {
      runQuestionAction(question, button.dataset.action);
    }
  });
  window.addEventListener("popstate", () => window.location.reload());
  const room = roomFromPath();
  if (!room) {
    showCreate();
    return;
  }
  state.room = room;
  const hostToken = tokenFor(room);
  const token = hostToken || accountToken();
  if (token) {
    if (!hostToken) {
      // The account's own poll: the console follows the access token as it is renewed.
      onAccountToken((renewed) => {
        if (renewed && state.room === room) {
          state.token = renewed;
        }
      });
    }
    startConsole(room, token, null, null);
  } else {
    showTokenForm(room);
  }
}

followLive({
  state,
  render,
  refresh,
  refreshWords: () => refreshWords(ui.words, state.room, state.token, currentQuestion()),
  refreshBoard: () => refreshBoard(state.room),
  currentQuestion,
  presenceNode: ui.presence,
  setApiStatus,
});
init();
