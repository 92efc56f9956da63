// Zephyr host console: a word cloud's words, with hide and show. The words every screen shows
// come first (most entered first), each with a Hide button; then the words no screen shows,
// with why (hidden by you, a banned word, the profanity filter) and a Show button. The list
// comes from GET /api/polls/{room}/questions/{n}/words (host only); a click posts
// /words/hide or /words/show with {"word"} and reads the list again.
import { api, describeError } from "./common.js";

const REASON_TEXT = {
  hidden: "hidden by you",
  banned: "a banned word",
  profanity: "profanity filter",
};

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

function wordItem(label, count, note, action, onClick) {
  const item = el("li");
  const text = el("span", "word-text");
  text.append(el("strong", "", label), document.createTextNode(" · " + count));
  if (note) {
    text.append(document.createTextNode(" "), el("span", "word-reason", "(" + note + ")"));
  }
  const button = el("button", "link", action === "hide" ? "Hide" : "Show");
  button.type = "button";
  button.dataset.word = label;
  button.dataset.action = action;
  button.setAttribute("aria-label", (action === "hide" ? "Hide " : "Show ") + label);
  button.addEventListener("click", onClick);
  item.append(text, button);
  return item;
}

/**
 * Keep `panel` (a section with a list `.word-list` and a status line `.word-status`) showing
 * the words of `question`; hidden for any other kind. Draws again only when the list changed,
 * so a button keeps its focus between refreshes.
 */
export async function refreshWords(panel, room, token, question) {
  if (!question || question.spec.kind !== "wordcloud" || !token) {
    panel.hidden = true;
    panel.dataset.drawn = "";
    return;
  }
  panel.hidden = false;
  const path = "/api/polls/" + room + "/questions/" + question.index + "/words";
  const result = await api(path, { token });
  const status = panel.querySelector(".word-status");
  if (!result.ok) {
    status.textContent = describeError(result);
    return;
  }
  const data = result.data;
  const drawn = JSON.stringify([question.qid, data.words, data.withheld]);
  if (panel.dataset.drawn === drawn) {
    return;
  }
  panel.dataset.drawn = drawn;
  const moderate = (action, word) => async () => {
    const done = await api(path + "/" + action, { token, method: "POST", body: { word } });
    status.textContent = done.ok
      ? (action === "hide" ? "Hidden: " : "Shown again: ") + word
      : describeError(done);
    panel.dataset.drawn = "";
    await refreshWords(panel, room, token, question);
  };
  const list = panel.querySelector(".word-list");
  const items = data.words.map((w) => wordItem(w.word, w.count, "", "hide", moderate("hide", w.word)));
  for (const w of data.withheld) {
    items.push(wordItem(w.word, w.count, REASON_TEXT[w.reason] || w.reason, "show", moderate("show", w.key)));
  }
  list.replaceChildren(...items);
  if (!items.length) {
    list.append(el("li", "word-reason", "No words yet."));
  }
}

/**
 * The word-cloud settings of a question editor (host.js's makeDraft): how many entries, the
 * profanity filter, the banned words (one per line). `field(box, id, label, control, hint)` is
 * the editor's labelled-control helper. Returns {box, read(out, problems)}: `read` adds the
 * settings to the question `out` or a problem to `problems`.
 */
export function wordcloudSettings(id, initial, field) {
  const box = el("div", "settings-grid s-wordcloud");
  const entries = document.createElement("input");
  entries.type = "number";
  entries.inputMode = "numeric";
  entries.min = "1";
  entries.max = "10";
  entries.step = "1";
  entries.dataset.field = "max_entries";
  field(box, id + "-max-entries", "Entries per participant", entries, "1 to 10 (3 when empty).");
  const filter = document.createElement("input");
  filter.type = "checkbox";
  filter.dataset.field = "profanity_filter";
  field(box, id + "-profanity", "Hide profanity", filter, "Profane words are counted but shown on no screen.");
  const banned = document.createElement("textarea");
  banned.rows = 3;
  banned.dataset.field = "banned_words";
  field(box, id + "-banned", "Banned words (one per line, optional)", banned, "Shown on no screen; you can still show one from the words list.");
  const spec = initial || {};
  entries.value = Number.isInteger(spec.max_entries) ? String(spec.max_entries) : "";
  filter.checked = spec.profanity_filter !== false;
  banned.value = Array.isArray(spec.banned_words) ? spec.banned_words.join("\n") : "";
  return {
    box,
    read(out, problems) {
      const raw = entries.value.trim();
      if (raw !== "") {
        const value = Number(raw);
        if (!Number.isInteger(value) || value < 1 || value > 10) {
          problems.push("entries per participant must be 1 to 10");
        } else {
          out.max_entries = value;
        }
      }
      out.profanity_filter = filter.checked;
      out.banned_words = banned.value
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line.length > 0);
    },
  };
}
