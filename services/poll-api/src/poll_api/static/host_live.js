// Zephyr host pages, the live connection (docs/api.md, "The host's live connection"): one
// WebSocket per page to the gateway, /ws/{room}/host, authenticated by its first frame
// {"type": "host", "token"}. While it is up the console and the presenter view draw counts,
// results and state from its frames and do not poll poll-api; they still fetch after their own
// actions and when a `changed` frame says the Q&A queue or a word list changed. While it is
// down they poll as before, and it reconnects with backoff.
import { questionsOf } from "./common.js";

const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 15000;

const live = {
  up: false, // host_ready received, socket open
  ws: null,
  room: null,
  tokenOf: null, // () => the token to authenticate with (it may change: account refresh)
  url: null,
  handlers: {}, // frame type -> [handler]
  statusHandlers: [],
  backoff: MIN_BACKOFF_MS,
  timer: null,
  stopped: true,
};

/** True while the live connection is up: the pages skip their periodic refresh then. */
export function isLive() {
  return live.up;
}

/** Call `handler(frame)` with every frame of `type` (presence, tally, poll_state, qa, changed). */
export function onLiveFrame(type, handler) {
  (live.handlers[type] = live.handlers[type] || []).push(handler);
}

/** Call `handler(up)` whenever the connection comes up or goes down. */
export function onLiveStatus(handler) {
  live.statusHandlers.push(handler);
}

/** The host socket's URL, on the gateway that serves the join page (`joinUrl`'s origin). */
export function liveUrl(joinUrl, room) {
  if (!joinUrl) {
    return null;
  }
  try {
    const url = new URL(joinUrl, window.location.href);
    const scheme = url.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + url.host + "/ws/" + encodeURIComponent(room) + "/host";
  } catch (e) {
    return null;
  }
}

/** "N connected · M joined · K answers" of a presence frame. */
export function presenceText(frame) {
  const plural = (n, one, many) => n + (n === 1 ? one : many);
  return [
    plural(frame.connected, " connected", " connected"),
    plural(frame.joined, " joined", " joined"),
    plural(frame.answers, " answer", " answers"),
  ].join(" · ");
}

/**
 * Whether a `poll_state` frame tells something `poll` (GET /api/polls/{room}) does not show:
 * only then is the poll read again (a gateway may repeat a state it already announced).
 */
export function stateDiffers(poll, frame) {
  if (!poll) {
    return true;
  }
  const current = Number.isInteger(poll.current) ? poll.current : 0;
  const question = questionsOf(poll).find((q) => q.qid === frame.qid);
  if (current !== frame.current || !question) {
    return true;
  }
  const when = (stamp) => (stamp ? Date.parse(stamp) : null);
  return (
    question.index !== frame.question ||
    question.status !== frame.status ||
    Boolean(question.revealed) !== Boolean(frame.revealed) ||
    question.epoch !== frame.epoch ||
    when(question.closes_at) !== when(frame.closes_at) ||
    Boolean(frame.spec && question.spec && frame.spec.prompt !== question.spec.prompt)
  );
}

function setUp(up) {
  if (live.up === up) {
    return;
  }
  live.up = up;
  for (const handler of live.statusHandlers) {
    handler(up);
  }
}

function dispatch(frame) {
  if (frame.type === "host_ready") {
    live.backoff = MIN_BACKOFF_MS;
    setUp(true);
  }
  for (const handler of live.handlers[frame.type] || []) {
    try {
      handler(frame);
    } catch (e) {
      console.error("live frame handler failed", e);
    }
  }
}

function open() {
  live.timer = null;
  const token = live.tokenOf ? live.tokenOf() : null;
  if (live.stopped || !token || !live.url) {
    return;
  }
  let ws;
  try {
    ws = new WebSocket(live.url);
  } catch (e) {
    schedule();
    return;
  }
  live.ws = ws;
  ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "host", token })));
  ws.addEventListener("message", (event) => {
    let frame = null;
    try {
      frame = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    if (frame && typeof frame.type === "string" && ws === live.ws) {
      dispatch(frame);
    }
  });
  ws.addEventListener("close", () => {
    if (ws !== live.ws) {
      return;
    }
    live.ws = null;
    setUp(false);
    schedule();
  });
}

function schedule() {
  if (live.stopped || live.timer !== null) {
    return;
  }
  const wait = live.backoff * (0.75 + Math.random() / 2);
  live.backoff = Math.min(MAX_BACKOFF_MS, live.backoff * 2);
  live.timer = window.setTimeout(open, wait);
}

/** Open the live connection of `room` (again, after stopLive); `tokenOf()` gives the token. */
export function startLive(room, tokenOf, joinUrl) {
  stopLive();
  live.room = room;
  live.tokenOf = tokenOf;
  live.url = liveUrl(joinUrl, room);
  live.stopped = false;
  live.backoff = MIN_BACKOFF_MS;
  open();
}

/** Close it for good (another poll now): the pages poll again. */
export function stopLive() {
  live.stopped = true;
  if (live.timer !== null) {
    window.clearTimeout(live.timer);
    live.timer = null;
  }
  const ws = live.ws;
  live.ws = null;
  if (ws) {
    ws.close();
  }
  setUp(false);
}
