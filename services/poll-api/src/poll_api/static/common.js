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
  try {
    return window.sessionStorage.getItem(TOKEN_PREFIX + room);
  } catch (e) {
    return null;
  }
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
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  } catch (e) {
    return { ok: false, status: 0, data: null };
  }
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
    const where = Array.isArray(detail[0].loc) ? detail[0].loc.slice(1).join(" ") : "";
    return (where ? where + ": " : "") + detail[0].msg;
  }
  return "The server answered " + result.status + ".";
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

/** Draw one bar per option (counts and percentages); the list is reused between updates. */
export function renderBars(list, options, counts) {
  const values = options.map((_, i) => (Number.isInteger(counts[i]) ? counts[i] : 0));
  const total = values.reduce((a, b) => a + b, 0);
  if (list.children.length !== values.length) {
    list.replaceChildren(...values.map(() => barItem()));
  }
  values.forEach((count, index) => {
    const item = list.children[index];
    const pct = percent(count, total);
    item.dataset.index = String(index);
    item.querySelector(".bar-label").textContent = options[index];
    item.querySelector(".count").textContent = String(count);
    item.querySelector(".unit").textContent = count === 1 ? " vote · " : " votes · ";
    item.querySelector(".pct").textContent = pct + "%";
    // CSSOM, not a style attribute: allowed under a CSP without 'unsafe-inline'.
    item.querySelector(".fill").style.width = pct + "%";
  });
  return total;
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
