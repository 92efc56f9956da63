// Zephyr participant page: answering a word cloud. The page (app.js) calls
// ZephyrWords.build(fieldset, spec, onSend) once per question and then `render` on every update;
// results come back as rows for its bar list (`rows`). Everything is drawn with textContent:
// whatever other participants typed is only ever text here.
//
// The server enforces every rule (docs/questions.md); the fields only help: `max_entries` fields
// of at most 25 characters, sent as one list that replaces the previous one (latest wins).
(function () {
  "use strict";

  const MAX_CHARS = 25;

  /** The entries typed, trimmed, empty ones left out: the `words` of a vote frame. */
  function wordsOf(values) {
    return values.map((v) => String(v).trim()).filter((v) => v.length > 0);
  }

  /** Bar rows for a word cloud's tally: each word's respondents, bars relative to the top. */
  function rows(tally) {
    const t = tally || {};
    const words = Array.isArray(t.words) ? t.words : [];
    const total = Number.isInteger(t.total) ? t.total : 0;
    const top = words.reduce((m, w) => Math.max(m, Number(w.count) || 0), 0);
    return {
      rows: words.slice(0, 20).map((w, i) => ({
        key: "w" + i,
        label: String(w.word),
        count: Number(w.count) || 0,
        unit: Number(w.count) === 1 ? " person" : " people",
        pct: "",
        width: top > 0 ? Math.round((100 * (Number(w.count) || 0)) / top) : 0,
      })),
      total: total,
      summary: {
        label: "Words",
        value: String(Number.isInteger(t.distinct) ? t.distinct : words.length),
        note: "different ones",
      },
    };
  }

  function el(tag, className) {
    const node = document.createElement(tag);
    node.className = className;
    return node;
  }

  /**
   * Build the fields of a word cloud inside `list` (the page's options list); `onSend(words)`
   * sends them. Returns {render(open, mine, pending)} to refresh them as state changes.
   */
  function build(list, spec, onSend) {
    const count = Number.isInteger(spec.max_entries) ? spec.max_entries : 3;
    const inputs = [];
    const item = el("li", "words");
    const form = document.createElement("form");
    form.className = "word-form";
    form.noValidate = true;
    for (let i = 0; i < count; i += 1) {
      const input = document.createElement("input");
      input.type = "text";
      input.className = "word-entry";
      input.maxLength = MAX_CHARS;
      input.autocomplete = "off";
      input.setAttribute("aria-label", count === 1 ? "Your word" : "Word " + (i + 1) + " of " + count);
      input.addEventListener("input", () => {
        form.dataset.dirty = "true";
      });
      inputs.push(input);
      form.append(input);
    }
    const hint = el("p", "hint");
    hint.textContent =
      "Up to " + count + (count === 1 ? " entry" : " entries") + ", each at most 3 words and " + MAX_CHARS + " characters.";
    const send = document.createElement("button");
    send.type = "submit";
    send.className = "primary send-words";
    send.textContent = "Send my words";
    form.append(hint, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const words = wordsOf(inputs.map((input) => input.value));
      if (words.length > 0) {
        form.dataset.dirty = "false";
        onSend(words);
      }
    });
    item.append(form);
    list.append(item);

    return {
      render(open, mine, pending) {
        const sent = mine && Array.isArray(mine.words) ? mine.words : null;
        // Fill the fields from the counted answer unless the participant is typing.
        if (sent && form.dataset.dirty !== "true" && !form.contains(document.activeElement)) {
          inputs.forEach((input, i) => {
            input.value = sent[i] || "";
          });
        }
        inputs.forEach((input) => {
          input.disabled = !open;
        });
        send.disabled = !open || Boolean(pending);
        send.textContent = pending ? "Sending…" : sent ? "Change my words" : "Send my words";
      },
    };
  }

  const api = { build, rows, wordsOf };
  if (typeof window !== "undefined") {
    window.ZephyrWords = api;
  } else if (typeof module === "object" && module.exports) {
    module.exports = api;
  }
})();
