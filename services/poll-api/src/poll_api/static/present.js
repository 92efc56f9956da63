// Zephyr presenter view: big live bars and the join QR, for a projector.
// With the host token (this tab, or the console tab that opened it) it reads live results;
// without it, the public view (results once revealed). Results the host hides until the reveal
// are never projected before it.
import {
  $,
  STATUS_TEXT,
  api,
  describeError,
  every,
  renderBars,
  roomFromPath,
  setUrlText,
  tokenFor,
} from "./common.js";

const REFRESH_MS = 1000;

// Every element of the view has the id "present-<name>" (the bars' list is "bars").
const PARTS = ["status", "figures", "question", "hidden", "error", "link", "qr", "room"];
const ui = Object.fromEntries(PARTS.map((name) => [name, $("present-" + name)]));
ui.bars = $("bars");

const room = roomFromPath();
const token = room ? tokenFor(room) : null;

async function refresh() {
  const pollResult = await api("/api/polls/" + room);
  if (!pollResult.ok) {
    ui.error.textContent =
      pollResult.status === 404 ? "No poll has the room code " + room + "." : describeError(pollResult);
    return;
  }
  const poll = pollResult.data;
  const visible = !poll.hide_results_until_reveal || poll.revealed;
  let counts = poll.results ? poll.results.counts : null;
  if (visible && token && !poll.revealed) {
    const results = await api("/api/polls/" + room + "/results", { token });
    counts = results.ok ? results.data.counts : null;
  }
  ui.error.textContent = "";
  ui.question.textContent = poll.question;
  document.title = "Zephyr: " + poll.question;
  ui.status.dataset.status = poll.status;
  ui.status.textContent = STATUS_TEXT[poll.status] || poll.status;
  const showBars = visible && counts !== null;
  ui.bars.hidden = !showBars;
  ui.hidden.hidden = showBars;
  ui.hidden.textContent = visible
    ? "Live results need the host console: open this view from there."
    : "The results appear when the host reveals them.";
  let total = null;
  if (showBars) {
    total = renderBars(ui.bars, poll.options, counts);
  }
  const people = poll.participant_count + (poll.participant_count === 1 ? " participant" : " participants");
  ui.figures.textContent = total === null ? people : people + " · " + total + (total === 1 ? " vote" : " votes");
}

async function init() {
  if (!room) {
    ui.error.textContent = "This address does not name a poll.";
    return;
  }
  ui.room.textContent = room;
  ui.qr.src = "/api/polls/" + room + "/qr.svg";
  every(REFRESH_MS, refresh);
  const link = await api("/api/polls/" + room + "/join");
  setUrlText(ui.link, link.ok ? link.data.join_url : "");
}

init();
