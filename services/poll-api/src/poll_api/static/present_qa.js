// Zephyr presenter view, the Q&A board (docs/qa.md): the top questions on the board, large,
// pinned first, then by upvotes. It reads GET /api/polls/{room}/qa with the host token (this tab,
// or the console tab that opened it) every REFRESH_MS, or draws the live connection's `qa`
// frames (host_live.js) while it is up; pending and hidden items are never shown.
// User text is only ever set with textContent.
import { $, api, every, roomFromPath, tokenFor } from "./common.js";
import { isLive, onLiveFrame, onLiveStatus } from "./host_live.js";

const REFRESH_MS = 1000;
const TOP = 5;

async function refresh() {
  const room = roomFromPath();
  const token = room ? tokenFor(room) : null;
  const section = $("present-qa");
  if (!room || !token || !section) {
    return;
  }
  const result = await api("/api/polls/" + room + "/qa", { token });
  if (!result.ok || !result.data.enabled) {
    section.hidden = true;
    return;
  }
  draw(result.data.items);
}

/** The released items of a board (the host's answer or a `qa` frame), in board order. */
function draw(items) {
  const section = $("present-qa");
  const shown = items.filter((i) => i.status === "approved" || i.status === "answered");
  section.hidden = false;
  const list = $("present-qa-items");
  list.replaceChildren();
  for (const item of shown.slice(0, TOP)) {
    const li = document.createElement("li");
    li.className = "qa-present-item";
    li.dataset.status = item.status;
    const score = document.createElement("span");
    score.className = "qa-score";
    score.textContent = "▲ " + item.score;
    const text = document.createElement("span");
    text.className = "qa-text";
    text.textContent = item.text;
    const badge = document.createElement("span");
    badge.className = "qa-badge";
    badge.textContent = (item.pinned ? "Pinned " : "") + (item.status === "answered" ? "Answered" : "");
    li.append(score, text, badge);
    list.append(li);
  }
  $("present-qa-empty").hidden = shown.length > 0;
}

every(REFRESH_MS, () => (isLive() ? null : refresh()));
onLiveFrame("qa", (frame) => ($("present-qa") ? draw(frame.items) : null));
onLiveStatus((up) => (up ? refresh() : null)); // what changed while it was down
