// Shared by the host console and the presenter view. User text only ever goes in textContent.

export const STATUS_TEXT = {
  draft: "Draft: voting not open yet",
  open: "Voting is open",
  closed: "Voting is closed",
};

const TOKEN_PREFIX = "zephyr.host.";
const ROOM_RE = /^\/host\/([A-Za-z0-9]{6})(?:\/present)?\/?$/;

export const $ = (id) => document.getElementById(id);

export function roomFromPath() {
  const match = window.location.pathname.match(ROOM_RE);
  return match ? match[1].toUpperCase() : null;
}

// The host token lives in sessionStorage only: it dies with the tab, never sits on the disk
// profile, and is sent only in the Authorization header (never in a URL).
export function tokenFor(room) {
  const fromLink = keyFromLink();
  if (fromLink) {
    saveToken(room, fromLink);
    return fromLink;
  }
  try {
    return window.sessionStorage.getItem(TOKEN_PREFIX + room);
  } catch (e) {
    return null;
  }
}

// A host link (`/host/ROOM#key=hl-…`): take the key and wipe it from the address bar and the
// history, so it is not shared by a screenshot or a copied URL.
function keyFromLink() {
  const match = window.location.hash.match(/^#key=(hl-[A-Za-z0-9_-]{16,200})$/);
  if (!match) {
    return null;
  }
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  return match[1];
}

export function saveToken(room, token) {
  try {
    window.sessionStorage.setItem(TOKEN_PREFIX + room, token);
  } catch (e) {
    // Without storage the console still works until the tab is closed or reloaded.
  }
}

export function forgetToken(room) {
  try {
    window.sessionStorage.removeItem(TOKEN_PREFIX + room);
  } catch (e) {
    // nothing to forget
  }
}

/** Call the JSON API. Never throws: {ok, status, data}; status 0 when the server is unreachable. */
export async function api(path, { method = "GET", token = null, body = undefined } = {}) {
  const headers = { Accept: "application/json" };
  if (token) {
    headers.Authorization = "Bearer " + token;
  }
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
    const arrivedAt = Date.now();
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return {
      ok: response.ok,
      status: response.status,
      data,
      clockOffset: serverOffset(data, response.headers.get("Date"), arrivedAt),
    };
  } catch (e) {
    return { ok: false, status: 0, data: null, clockOffset: null };
  }
}

/**
 * server clock − this machine's clock, in ms: from the answer's `server_time` when it has one,
 * else from its `Date` header (whole seconds: half a second is added, the expected truncation).
 * null when neither is there.
 */
export function serverOffset(data, dateHeader, arrivedAt) {
  const stamp = data && typeof data.server_time === "string" ? Date.parse(data.server_time) : NaN;
  if (!Number.isNaN(stamp)) {
    return stamp - arrivedAt;
  }
  const date = dateHeader ? Date.parse(dateHeader) : NaN;
  return Number.isNaN(date) ? null : date + 500 - arrivedAt;
}

/** A short, human message for a failed API answer. */
export function describeError(result) {
  if (result.status === 0) {
    return "Cannot reach the server.";
  }
  const detail = result.data && result.data.detail;
  if (typeof detail === "string") {
    return detail;
  }
  if (Array.isArray(detail) && detail.length > 0 && typeof detail[0].msg === "string") {
    return describeLocation(detail[0].loc) + detail[0].msg;
  }
  return "The server answered " + result.status + ".";
}

/** "question 2, max_choices: " for a pydantic error's loc ["body", "questions", 1, "multiple", …]. */
export function describeLocation(loc) {
  if (!Array.isArray(loc)) {
    return "";
  }
  const parts = [];
  const rest = loc[0] === "body" ? loc.slice(1) : loc.slice();
  for (let i = 0; i < rest.length; i += 1) {
    const part = rest[i];
    if (part === "questions" && Number.isInteger(rest[i + 1])) {
      parts.push("question " + (rest[i + 1] + 1));
      i += 1;
      if (KIND_TEXT[rest[i + 1]]) {
        i += 1; // the union's branch name (the kind) says nothing new
      }
    } else if (typeof part === "string" && KIND_TEXT[part] && i === 0) {
      continue;
    } else {
      parts.push(String(part));
    }
  }
  return parts.length ? parts.join(", ") + ": " : "";
}

export function percent(count, total) {
  return total > 0 ? Math.round((100 * count) / total) : 0;
}

function element(tag, className) {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function barItem() {
  const item = element("li", "bar");
  const head = element("div", "bar-head");
  const label = element("span", "bar-label");
  const value = element("span", "bar-value");
  const count = element("span", "count");
  const sep = element("span", "unit");
  const pct = element("span", "pct");
  value.append(count, sep, pct);
  head.append(label, value);
  const track = element("div", "track");
  track.setAttribute("aria-hidden", "true");
  track.append(element("div", "fill"));
  item.append(head, track);
  return item;
}

// ---- questions and their aggregates (pure; the participant page has its own copy in app.js,
// since it is served by another service) ----------------------------------------------------

export const KIND_TEXT = {
  single: "Single choice",
  multiple: "Multiple choice",
  rating: "Rating",
  ranking: "Ranking",
  wordcloud: "Word cloud",
  quiz: "Quiz",
};

function plural(n, one, many) {
  return n + " " + (n === 1 ? one : many);
}

export function rankCount(spec) {
  const count = (spec.options || []).length;
  return Number.isInteger(spec.rank_count) ? spec.rank_count : count;
}

export function ratingRange(spec) {
  const low = Number.isInteger(spec.min) ? spec.min : 1;
  const high = Number.isInteger(spec.max) ? spec.max : 5;
  return [low, high];
}

/** The settings of a question in a few words ("choose 1 to 2 of 4 options", "1 to 5"). */
export function settingsText(spec) {
  const count = (spec.options || []).length;
  let text;
  switch (spec.kind) {
    case "single":
      text = plural(count, "option", "options");
      break;
    case "multiple": {
      const low = Number.isInteger(spec.min_choices) ? spec.min_choices : 1;
      const high = Number.isInteger(spec.max_choices) ? spec.max_choices : count;
      text = "choose " + (low === high ? low : low + " to " + high) + " of " + count + " options";
      break;
    }
    case "rating": {
      const [low, high] = ratingRange(spec);
      text = "scale " + low + " to " + high;
      break;
    }
    case "ranking":
      text = "rank " + rankCount(spec) + " of " + count + " options";
      break;
    case "quiz":
      text =
        plural(count, "option", "options") +
        (spec.multiple || (Array.isArray(spec.correct) && spec.correct.length > 1) ? ", several correct" : "") +
        (Number.isInteger(spec.points) ? " · " + spec.points + " points" : "");
      break;
    case "wordcloud": {
      const n = Number.isInteger(spec.max_entries) ? spec.max_entries : 3;
      text = "up to " + plural(n, "entry", "entries");
      break;
    }
    default:
      text = "";
  }
  if (Number.isInteger(spec.time_limit_s)) {
    text += (text ? " · " : "") + spec.time_limit_s + " s";
  }
  return text;
}

/**
 * What a results list shows for a question's aggregate: one row per bar, and a summary line.
 * Rows: {key, label, count, unit, pct, width}. single/multiple: percentage of respondents
 * (`total`; for multiple they add up to more than 100). rating: the histogram, plus the exact
 * mean from the server (a string, never recomputed in floating point). ranking: Borda points,
 * best first, the bar relative to the most points an option can get (k × total).
 */
export function aggregateRows(spec, tally) {
  const t = tally || {};
  const counts = Array.isArray(t.counts) ? t.counts : [];
  const num = (x) => (Number.isInteger(x) ? x : 0);
  const options = spec.options || [];
  if (spec.kind === "wordcloud") {
    // The console's bars: the top words by respondents, relative to the first (the presenter
    // view draws the cloud itself, wordcloud.js).
    const words = Array.isArray(t.words) ? t.words.slice(0, 10) : [];
    const top = words.reduce((m, w) => Math.max(m, num(w.count)), 0);
    const rows = words.map((w, i) => ({
      key: "w" + i,
      label: String(w.word),
      count: num(w.count),
      unit: num(w.count) === 1 ? " person" : " people",
      pct: "",
      width: top > 0 ? Math.round((100 * num(w.count)) / top) : 0,
    }));
    const summary = { label: "Words", value: String(num(t.distinct)), note: "different ones" };
    return { rows: rows, total: num(t.total), summary: summary };
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
        label,
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
      rows,
      total,
      summary: {
        label: "Mean",
        value: mean === null ? "–" : mean,
        note: "from " + plural(total, "answer", "answers"),
      },
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
      rows,
      total,
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
  return { rows, total, summary };
}

/**
 * Draw a question's aggregate in its kind's form into `list` (a ul.bars, reused between
 * updates) and `summary` (a p, or null); returns the number of respondents.
 */
export function renderAggregate(list, summary, spec, tally) {
  const view = aggregateRows(spec, tally);
  if (list.children.length !== view.rows.length) {
    list.replaceChildren(...view.rows.map(() => barItem()));
  }
  view.rows.forEach((row, position) => {
    const item = list.children[position];
    item.dataset.index = row.key;
    item.querySelector(".bar-label").textContent = row.label;
    item.querySelector(".count").textContent = String(row.count);
    item.querySelector(".unit").textContent = row.unit;
    item.querySelector(".pct").textContent = row.pct;
    // CSSOM, not a style attribute: allowed under a CSP without 'unsafe-inline'.
    item.querySelector(".fill").style.width = row.width + "%";
  });
  list.dataset.kind = spec.kind;
  if (summary) {
    summary.hidden = view.summary === null;
    if (view.summary) {
      if (summary.children.length !== 3) {
        summary.replaceChildren(
          element("span", "summary-label"),
          element("strong", "summary-value"),
          element("span", "summary-note")
        );
      }
      summary.children[0].textContent = view.summary.label + " ";
      summary.children[1].textContent = view.summary.value;
      summary.children[2].textContent = " " + view.summary.note;
    }
  }
  return view.total;
}

/** Draw one bar per option (counts and percentages); the list is reused between updates. */
export function renderBars(list, options, counts) {
  return renderAggregate(list, null, { kind: "single", options }, { counts });
}

/** Milliseconds left until `closesAt` (ISO), on the server's clock (offset = server − local). */
export function remainingMs(closesAt, offsetMs, nowMs) {
  const closes = Date.parse(closesAt || "");
  if (Number.isNaN(closes)) {
    return null;
  }
  return closes - (nowMs + (offsetMs || 0));
}

/** "1:05" for 65 s left (rounded up, so 0:00 only once time is up). */
export function formatClock(ms) {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(seconds / 60);
  const s = seconds % 60;
  return m + ":" + String(s).padStart(2, "0");
}

/** The run of questions of a public poll view; a first-version view is a run of one. */
export function questionsOf(poll) {
  if (Array.isArray(poll.questions) && poll.questions.length > 0) {
    return poll.questions;
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
      ever_opened: poll.status !== "draft" || Boolean(poll.opened_at),
    },
  ];
}

/**
 * Each question's aggregate from `GET /results`, by qid: the `questions` list of a run, or the
 * top-level counts of a first-version answer (question 0).
 */
export function resultsByQid(results, run = []) {
  const found = {};
  if (!results) {
    return found;
  }
  if (Array.isArray(results.questions)) {
    for (const item of results.questions) {
      if (!item) {
        continue;
      }
      // An item names its question by qid; by its index alone, the run says which qid that is.
      const byIndex = run.find((q) => q.index === item.index);
      const qid = Number.isInteger(item.qid) ? item.qid : byIndex ? byIndex.qid : null;
      if (qid !== null) {
        found[qid] = item;
      }
    }
  } else if (Array.isArray(results.counts)) {
    found[0] = results;
  }
  return found;
}

/** Run `step` now and again `everyMs` after each run ends (never two at once). */
export function every(everyMs, step) {
  let stopped = false;
  const loop = async () => {
    if (stopped) {
      return;
    }
    try {
      await step();
    } finally {
      if (!stopped) {
        window.setTimeout(loop, everyMs);
      }
    }
  };
  loop();
  return () => {
    stopped = true;
  };
}

/** Show a URL as text that wraps after its slashes rather than in the middle of the code. */
export function setUrlText(element, url) {
  element.replaceChildren();
  for (const part of url.split(/(?<=\/)/)) {
    element.append(document.createTextNode(part), document.createElement("wbr"));
  }
}
