// Unit tests of the pages' pure helpers (aggregates, countdown, answers), run by node:
//   node helpers.test.mjs <app.js> <common.js as .mjs>
// tests/browser/test_page_helpers.py runs it; the participant page (app.js, a classic script on
// the gateway) and the host pages (common.js, a module on poll-api) each have their copy of
// aggregateRows, and this checks that the two agree.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [appPath, commonPath] = process.argv.slice(2).map((p) => resolve(p));
const h = createRequire(import.meta.url)(appPath);
const c = await import(pathToFileURL(commonPath).href);

const multi = { kind: "multiple", prompt: "L?", options: ["Py", "Rust", "Go", "Java"], min_choices: 1, max_choices: 2 };
assert.deepStrictEqual(h.choiceRange(multi), [1, 2]);
assert.strictEqual(h.choiceRule(multi), "Choose 1 to 2 options");
assert.strictEqual(h.choiceRule({ ...multi, min_choices: 2 }), "Choose exactly 2 options");
assert.strictEqual(h.choiceProblem(multi, []), "Choose at least 1 option.");
assert.strictEqual(h.choiceProblem(multi, [0, 1, 2]), "Choose at most 2 options.");
assert.strictEqual(h.choiceProblem(multi, [0, 1]), null);
assert.deepStrictEqual(h.answerFields(multi, [2, 0]), { options: [0, 2] });
assert.deepStrictEqual(h.answerFields({ kind: "single" }, 1), { option: 1 });
assert.deepStrictEqual(h.answerFields({ kind: "rating" }, 4), { value: 4 });
assert.deepStrictEqual(h.answerFields({ kind: "ranking" }, [2, 0, 1]), { ranking: [2, 0, 1] });
assert.strictEqual(h.answerText(multi, { kind: "multiple", options: [0, 2] }), "Py, Go");
assert.strictEqual(h.answerText({ kind: "ranking", options: ["A", "B", "C"] }, { ranking: [1, 0] }), "1. B · 2. A");
assert.strictEqual(h.answerText({ kind: "rating" }, { kind: "rating", value: 0 }), "0");
assert.ok(h.sameAnswer({ option: 1 }, { kind: "single", option: 1 }));
assert.ok(!h.sameAnswer({ options: [1] }, { options: [1, 2] }));
// multiple: percentages of respondents
let v = h.aggregateRows(multi, { kind: "multiple", counts: [2, 1, 1, 0], total: 2 });
assert.deepStrictEqual(v.rows.map((r) => r.pct), ["100%", "50%", "50%", "0%"]);
assert.strictEqual(v.total, 2);
// single
v = h.aggregateRows({ kind: "single", options: ["a", "b", "c"] }, { counts: [1, 2, 0], total: 3 });
assert.deepStrictEqual(v.rows.map((r) => r.pct), ["33%", "67%", "0%"]);
assert.strictEqual(v.summary, null);
v = h.aggregateRows({ kind: "single", options: ["a", "b"] }, null);
assert.deepStrictEqual(v.rows.map((r) => r.count), [0, 0]);
// rating: histogram from min, exact mean from the server
const rating = { kind: "rating", prompt: "?", min: 1, max: 5, min_label: "poor", max_label: "great" };
v = h.aggregateRows(rating, { counts: [0, 0, 1, 0, 2], total: 3, sum: 13, mean: "4.33" });
assert.deepStrictEqual(v.rows.map((r) => r.label), ["1 · poor", "2", "3", "4", "5 · great"]);
assert.deepStrictEqual(v.rows.map((r) => r.count), [0, 0, 1, 0, 2]);
assert.strictEqual(v.summary.value, "4.33");
v = h.aggregateRows({ kind: "rating", min: 0, max: 10 }, { counts: [], total: 0, sum: 0, mean: null });
assert.strictEqual(v.rows.length, 11);
assert.strictEqual(v.summary.value, "–");
// ranking: sorted by points, width relative to k * total
const ranking = { kind: "ranking", options: ["A", "B", "C", "D"], rank_count: 3 };
v = h.aggregateRows(ranking, { points: [3, 5, 0, 4], total: 2, average: ["1.50", "2.50", "0.00", "2.00"] });
assert.deepStrictEqual(v.rows.map((r) => r.label), ["B", "D", "A", "C"]);
assert.deepStrictEqual(v.rows.map((r) => r.width), [83, 67, 50, 0]);
assert.strictEqual(v.rows[0].pct, "2.50");
// countdown
const t0 = Date.parse("2026-12-03T15:00:00Z");
assert.strictEqual(h.remainingMs("2026-12-03T15:00:30Z", 0, t0), 30000);
// phone clock 5 s fast: offset = server - local = -5000
assert.strictEqual(h.remainingMs("2026-12-03T15:00:30Z", -5000, t0 + 5000), 30000);
assert.strictEqual(h.formatClock(65000), "1:05");
assert.strictEqual(h.formatClock(100), "0:01");
assert.strictEqual(h.formatClock(-3), "0:00");
// v1 poll view is a run of one
const qs = h.questionsOf({ question: "Q", options: ["a", "b"], status: "open", revealed: false, epoch: 2 });
assert.strictEqual(qs[0].spec.kind, "single");
assert.strictEqual(qs[0].epoch, 2);
assert.strictEqual(c.describeLocation(["body", "questions", 1, "multiple", "max_choices"]), "question 2, max_choices: ");
assert.strictEqual(c.describeLocation(["body", "question"]), "question: ");
assert.strictEqual(c.describeLocation(["body"]), "");
assert.strictEqual(c.describeError({ status: 422, data: { detail: [{ loc: ["body", "questions", 0, "rating", "max"], msg: "Value error, max must be greater than min" }] } }), "question 1, max: Value error, max must be greater than min");
const arrived = Date.parse("2026-12-03T15:00:00.000Z");
assert.strictEqual(c.serverOffset({ server_time: "2026-12-03T15:00:02.000Z" }, null, arrived), 2000);
assert.strictEqual(c.serverOffset(null, "Thu, 03 Dec 2026 15:00:03 GMT", arrived), 3500);
assert.strictEqual(c.serverOffset(null, null, arrived), null);
assert.strictEqual(c.settingsText({ kind: "multiple", options: ["a", "b", "c"], max_choices: 2 }), "choose 1 to 2 of 3 options");
assert.strictEqual(c.settingsText({ kind: "rating", min: 0, max: 10, time_limit_s: 30 }), "scale 0 to 10 · 30 s");
assert.strictEqual(c.settingsText({ kind: "ranking", options: ["a", "b", "c"], rank_count: 2 }), "rank 2 of 3 options");
assert.deepStrictEqual(Object.keys(c.resultsByQid({ questions: [{ qid: 0 }, { qid: 3 }] })), ["0", "3"]);
assert.deepStrictEqual(c.resultsByQid({ counts: [1, 2] })[0].counts, [1, 2]);
assert.deepStrictEqual(Object.keys(c.resultsByQid({ questions: [{ index: 1, counts: [] }] }, [{ index: 1, qid: 7 }])), ["7"]);
const r = c.aggregateRows({ kind: "rating", min: 1, max: 5 }, { counts: [0, 1, 0, 1, 1], total: 3, sum: 11, mean: "3.67" });
assert.strictEqual(r.summary.value, "3.67");
assert.deepStrictEqual(r.rows.map((x) => x.pct), ["0%", "33%", "0%", "33%", "33%"]);
const m = c.aggregateRows({ kind: "multiple", options: ["a", "b", "c"] }, { counts: [2, 1, 0], total: 2 });
assert.deepStrictEqual(m.rows.map((x) => x.pct), ["100%", "50%", "0%"]);
assert.strictEqual(c.remainingMs("2026-12-03T15:00:30Z", 1000, arrived), 29000);
assert.strictEqual(c.questionsOf({ question: "Q", options: ["a"], status: "open" })[0].ever_opened, true);

// The two copies of aggregateRows give the same rows for every kind.
const cases = [
  [{ kind: "single", options: ["a", "b", "c"] }, { counts: [1, 2, 0], total: 3 }],
  [{ kind: "multiple", options: ["a", "b"], max_choices: 2 }, { counts: [2, 1], total: 2 }],
  [{ kind: "rating", min: 0, max: 4, max_label: "top" }, { counts: [1, 0, 0, 0, 2], total: 3, sum: 8, mean: "2.67" }],
  [{ kind: "ranking", options: ["x", "y", "z"] }, { points: [4, 6, 2], total: 2, average: ["2.00", "3.00", "1.00"] }],
  [{ kind: "single", options: ["a", "b"] }, null],
];
for (const [spec, tally] of cases) {
  assert.deepStrictEqual(h.aggregateRows(spec, tally), c.aggregateRows(spec, tally), spec.kind);
}
console.log("page helpers ok");
