// Zephyr host console, the Q&A board (docs/qa.md): the queue of every item, pending ones
// first, with approve / hide / pin / answered buttons. It reads GET /api/polls/{room}/qa with the
// host token every REFRESH_MS (only the host sees pending items) and posts the actions; while
// the live connection is up (host_live.js), only when it says the queue changed.
// User text is only ever set with textContent.
import { $, api, describeError, every, roomFromPath, tokenFor } from "./common.js";
import { isLive, onLiveFrame, onLiveStatus } from "./host_live.js";

const REFRESH_MS = 1500;
const GROUPS = [
  ["pending", "Waiting for your approval"],
  ["approved", "On the board"],
  ["answered", "Answered"],
  ["hidden", "Hidden"],
];
// The buttons an item of each status offers: [path, label].
const ACTIONS = {
  pending: [["approve", "Approve"], ["hide", "Hide"]],
  approved: [["pin", null], ["answered", "Mark answered"], ["hide", "Hide"]],
  answered: [["pin", null], ["approve", "Back on the board"], ["hide", "Hide"]],
  hidden: [["approve", "Show again"]],
};

/** The create form's Q&A settings, for host.js's POST /api/polls body. */
export function qaSettings() {
  const enabled = $("qa-enabled");
  const moderated = $("qa-moderated");
  return {
    qa_enabled: Boolean(enabled && enabled.checked),
    qa_moderated: Boolean(enabled && enabled.checked && moderated && moderated.checked),
  };
}

async function act(room, token, item, path) {
  const result = await api("/api/polls/" + room + "/qa/" + item.id + "/" + path, {
    method: "POST",
    token,
  });
  $("qa-host-error").textContent = result.ok ? "" : "Not done: " + describeError(result);
  await refresh();
}

function itemRow(room, token, item) {
  const li = document.createElement("li");
  li.className = "qa-host-item";
  li.dataset.status = item.status;
  li.dataset.item = item.id;
  const score = document.createElement("span");
  score.className = "qa-score";
  score.textContent = "▲ " + item.score + (item.pinned ? " · pinned" : "");
  const text = document.createElement("span");
  text.className = "qa-text";
  text.textContent = item.text;
  const buttons = document.createElement("span");
  buttons.className = "qa-actions";
  for (const [path, label] of ACTIONS[item.status] || []) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = label || (item.pinned ? "Unpin" : "Pin");
    button.addEventListener("click", () => act(room, token, item, path));
    buttons.append(button);
  }
  li.append(score, text, buttons);
  return li;
}

let lastDrawn = null;

async function refresh() {
  const room = roomFromPath();
  const token = room ? tokenFor(room) : null;
  const section = $("qa-host");
  if (!room || !token || !section) {
    return;
  }
  const result = await api("/api/polls/" + room + "/qa", { token });
  if (!result.ok || !result.data.enabled) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const board = result.data;
  // Redraw only what changed: a list rebuilt every refresh would pull the buttons from under
  // the host's pointer.
  const drawn = JSON.stringify(board);
  if (drawn === lastDrawn) {
    return;
  }
  lastDrawn = drawn;
  $("qa-host-summary").textContent =
    board.items.length + (board.items.length === 1 ? " question" : " questions") +
    (board.moderated ? " · moderated: " + board.pending + " waiting" : "");
  const lists = $("qa-host-groups");
  lists.replaceChildren();
  for (const [status, title] of GROUPS) {
    const items = board.items.filter((item) => item.status === status);
    if (items.length === 0) {
      continue;
    }
    const heading = document.createElement("h3");
    heading.textContent = title + " (" + items.length + ")";
    const list = document.createElement("ol");
    list.className = "qa-host-list";
    list.dataset.status = status;
    for (const item of items) {
      list.append(itemRow(room, token, item));
    }
    lists.append(heading, list);
  }
}

if ($("qa-host")) {
  every(REFRESH_MS, () => (isLive() ? null : refresh()));
  onLiveFrame("changed", (frame) => (frame.what === "qa" ? refresh() : null));
  // Once each time it comes up: what changed while it was down (or before it was opened).
  onLiveStatus((up) => (up ? refresh() : null));
}
