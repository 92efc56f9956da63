// Zephyr host console: create a poll, share it, control it, watch it, export it.
import {
  $,
  STATUS_TEXT,
  api,
  describeError,
  every,
  forgetToken,
  renderBars,
  roomFromPath,
  saveToken,
  setUrlText,
  tokenFor,
} from "./common.js";

const REFRESH_MS = 1000;
const MIN_OPTIONS = 2;
const MAX_OPTIONS = 20;

const ui = {
  apiStatus: $("api-status"),
  createView: $("create-view"),
  createForm: $("create-form"),
  newQuestion: $("new-question"),
  optionInputs: $("option-inputs"),
  addOption: $("add-option"),
  hideResults: $("hide-results"),
  createButton: $("create-button"),
  createError: $("create-error"),
  tokenView: $("token-view"),
  tokenRoom: $("token-room"),
  tokenForm: $("token-form"),
  tokenInput: $("token-input"),
  tokenError: $("token-error"),
  consoleView: $("console-view"),
  status: $("poll-status"),
  revealed: $("poll-revealed"),
  question: $("poll-question"),
  participants: $("participants"),
  totalVotes: $("total-votes"),
  actionNote: $("action-note"),
  bars: $("bars"),
  downloadCsv: $("download-csv"),
  roomCode: $("room-code"),
  qr: $("qr"),
  joinLink: $("join-link"),
  presentLink: $("present-link"),
  tokenValue: $("token-value"),
  actions: Array.from(document.querySelectorAll("button[data-action]")),
};

const state = { room: null, token: null, poll: null, counts: [], busy: false, stop: null };

// ---- create -------------------------------------------------------------------------------

function addOptionInput(value = "") {
  const count = ui.optionInputs.children.length;
  if (count >= MAX_OPTIONS) {
    return;
  }
  const item = document.createElement("li");
  const id = "new-option-" + (count + 1);
  const label = document.createElement("label");
  label.htmlFor = id;
  label.className = "visually-hidden";
  label.textContent = "Option " + (count + 1);
  const input = document.createElement("input");
  input.id = id;
  input.maxLength = 120;
  input.value = value;
  input.placeholder = "Option " + (count + 1);
  item.append(label, input);
  ui.optionInputs.append(item);
  ui.addOption.disabled = ui.optionInputs.children.length >= MAX_OPTIONS;
  return input;
}

function showCreate() {
  ui.createView.hidden = false;
  ui.tokenView.hidden = true;
  ui.consoleView.hidden = true;
  while (ui.optionInputs.children.length < MIN_OPTIONS) {
    addOptionInput();
  }
  ui.newQuestion.focus();
}

async function onCreate(event) {
  event.preventDefault();
  const question = ui.newQuestion.value.trim();
  const options = Array.from(ui.optionInputs.querySelectorAll("input"))
    .map((input) => input.value.trim())
    .filter((text) => text.length > 0);
  if (!question) {
    ui.createError.textContent = "Write a question.";
    ui.newQuestion.focus();
    return;
  }
  if (options.length < MIN_OPTIONS) {
    ui.createError.textContent = "Give at least two options.";
    return;
  }
  ui.createButton.disabled = true;
  ui.createError.textContent = "";
  const result = await api("/api/polls", {
    method: "POST",
    body: {
      question,
      options,
      settings: { hide_results_until_reveal: ui.hideResults.checked },
    },
  });
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
}

async function startConsole(room, token, joinUrl, poll) {
  stopRefresh();
  Object.assign(state, { room, token, poll, counts: [] });
  ui.createView.hidden = true;
  ui.tokenView.hidden = true;
  ui.consoleView.hidden = false;
  ui.roomCode.textContent = room;
  ui.tokenValue.value = token;
  ui.presentLink.href = "/host/" + room + "/present";
  ui.qr.src = "/api/polls/" + room + "/qr.svg";
  if (poll) {
    render();
  }
  ui.question.focus();
  state.stop = every(REFRESH_MS, refresh);
  if (!joinUrl) {
    const link = await api("/api/polls/" + room + "/join");
    joinUrl = link.ok ? link.data.join_url : null;
  }
  setUrlText(ui.joinLink, joinUrl || "(no public join URL is configured)");
  ui.joinLink.href = joinUrl || "#";
}

async function refresh() {
  const room = state.room;
  const [pollResult, resultsResult] = await Promise.all([
    api("/api/polls/" + room),
    api("/api/polls/" + room + "/results", { token: state.token }),
  ]);
  if (room !== state.room) {
    return;
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
  setApiStatus("live", "Live");
  state.poll = pollResult.data;
  state.counts = resultsResult.data.counts;
  render();
}

function setApiStatus(kind, text) {
  ui.apiStatus.dataset.state = kind;
  ui.apiStatus.textContent = text;
}

function render() {
  const poll = state.poll;
  ui.question.textContent = poll.question;
  document.title = "Host: " + poll.question;
  ui.status.dataset.status = poll.status;
  ui.status.textContent = STATUS_TEXT[poll.status] || poll.status;
  ui.revealed.hidden = !poll.revealed;
  ui.participants.textContent = String(poll.participant_count);
  const total = renderBars(ui.bars, poll.options, state.counts);
  ui.totalVotes.textContent = String(total);
  const allowed = {
    open: poll.status !== "open",
    close: poll.status === "open",
    reveal: !poll.revealed,
    reset: poll.status !== "draft" || poll.revealed || total > 0,
  };
  for (const button of ui.actions) {
    button.disabled = state.busy || !allowed[button.dataset.action];
  }
}

async function runAction(action) {
  if (action === "reset" && !window.confirm("Reset discards every vote. Reset the poll?")) {
    return;
  }
  state.busy = true;
  render();
  const result = await api("/api/polls/" + state.room + "/" + action, {
    method: "POST",
    token: state.token,
  });
  state.busy = false;
  if (result.ok) {
    state.poll = Object.assign({}, state.poll, result.data, {
      participant_count: state.poll.participant_count,
    });
    if (action === "reset") {
      state.counts = [];
    }
    ui.actionNote.textContent = actionDone[action];
  } else {
    ui.actionNote.textContent = "Not done: " + describeError(result);
  }
  render();
}

const actionDone = {
  open: "Voting is open.",
  close: "Voting is closed.",
  reveal: "The results are public now.",
  reset: "The poll was reset: every vote is gone and it is a draft again.",
};

async function downloadCsv() {
  // A plain link cannot send the Authorization header: fetch the file, then save the blob.
  const response = await fetch("/api/polls/" + state.room + "/results.csv", {
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
  link.download = "poll-" + state.room + "-results.csv";
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10000);
  ui.actionNote.textContent = "The CSV was downloaded.";
}

// ---- start --------------------------------------------------------------------------------

function init() {
  ui.createForm.addEventListener("submit", onCreate);
  ui.addOption.addEventListener("click", () => {
    const input = addOptionInput();
    if (input) {
      input.focus();
    }
  });
  ui.tokenForm.addEventListener("submit", onToken);
  ui.downloadCsv.addEventListener("click", downloadCsv);
  for (const button of ui.actions) {
    button.addEventListener("click", () => runAction(button.dataset.action));
  }
  window.addEventListener("popstate", () => window.location.reload());
  const room = roomFromPath();
  if (!room) {
    showCreate();
    return;
  }
  state.room = room;
  const token = tokenFor(room);
  if (token) {
    startConsole(room, token, null, null);
  } else {
    showTokenForm(room);
  }
}

init();
