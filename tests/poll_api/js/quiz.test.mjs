// Unit tests of the quiz pages' pure helpers, run by node:
//   node quiz.test.mjs <quiz.js as .mjs> <the gateway's app.js>
// tests/poll_api/test_quiz_pages.py runs it. quiz.js (a module of poll-api's host pages) draws
// the correct answer, the leaderboard and the podium; app.js (the participant page) words a
// participant's own quiz_result.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [quizPath, appPath] = process.argv.slice(2).map((p) => resolve(p));
const q = await import(pathToFileURL(quizPath).href);
const h = createRequire(import.meta.url)(appPath);

const quiz = (index, extra = {}) => ({ index, qid: 10 + index, spec: { kind: "quiz", options: ["a", "b", "c"] }, status: "closed", ...extra });
const single = (index) => ({ index, qid: 10 + index, spec: { kind: "single", options: ["x", "y"] }, status: "closed" });

// The last quiz question by index, whatever the order of the list.
const run = [quiz(2), single(3), quiz(0), single(1)];
assert.strictEqual(q.lastQuizIndex(run), 2);
assert.strictEqual(q.lastQuizIndex([single(0)]), -1);
assert.strictEqual(q.lastQuizIndex([]), -1);
assert.ok(q.isFinalBoard({ question: 2 }, run));
assert.ok(!q.isFinalBoard({ question: 0 }, run));
assert.ok(!q.isFinalBoard({ question: null }, run));
assert.ok(!q.isFinalBoard(null, run));

// The correct answer in words; the board's options when it scored this question, else the
// host's results, and nothing while the question is open.
assert.strictEqual(q.correctText({ options: ["Lyon", "Paris"] }, [1]), "Correct answer: Paris");
assert.strictEqual(q.correctText({ options: ["2", "4", "5"] }, [0, 2]), "Correct answers: 2, 5");
assert.strictEqual(q.correctText({ options: [] }, [3]), "Correct answer: #4");
assert.strictEqual(q.correctText({ options: ["a"] }, []), "");
const closed = quiz(0);
assert.deepStrictEqual(q.correctOf(closed, { qid: 10, correct_options: [1] }, null), [1]);
assert.deepStrictEqual(q.correctOf(closed, { qid: 99, correct_options: [1] }, { correct: [2] }), [2]);
assert.strictEqual(q.correctOf(closed, { qid: 99, correct_options: [1] }, {}), null);
assert.strictEqual(q.correctOf(quiz(0, { status: "open" }), { qid: 10, correct_options: [1] }, { correct: [1] }), null);
assert.strictEqual(q.correctOf(single(1), { qid: 11, correct_options: [1] }, null), null);

assert.strictEqual(q.boardCaption({ question: 2, participants: 5 }), "After question 3 · 5 participants ranked");
assert.strictEqual(q.boardCaption({ question: 0, participants: 1 }), "After question 1 · 1 participant ranked");
assert.strictEqual(q.boardCaption({ question: null, participants: 0 }), "No quiz question is scored yet.");

// The podium: the first three, in place order (CSS stands them 2, 1, 3), ranks as given.
const top = [
  { rank: 1, nickname: "Max", score: 2600 },
  { rank: 2, nickname: "Ann", score: 1500 },
  { rank: 2, nickname: "Bo", score: 1500 },
  { rank: 4, nickname: "Cy", score: 900 },
];
assert.deepStrictEqual(q.podiumPlaces(top).map((p) => [p.place, p.rank, p.nickname]), [[1, 1, "Max"], [2, 2, "Ann"], [3, 2, "Bo"]]);
assert.deepStrictEqual(q.podiumPlaces(top.slice(0, 1)).map((p) => p.place), [1]);
assert.deepStrictEqual(q.podiumPlaces([]), []);

// The presenter's steps: the answer first; the board once scored; the podium after the last.
assert.strictEqual(q.quizPhase(1000, true, true, 5000, 6000), "answer");
assert.strictEqual(q.quizPhase(9000, false, true, 5000, 6000), "answer"); // not scored yet
assert.strictEqual(q.quizPhase(5000, true, false, 5000, 6000), "board");
assert.strictEqual(q.quizPhase(60000, true, false, 5000, 6000), "board");
assert.strictEqual(q.quizPhase(10999, true, true, 5000, 6000), "board");
assert.strictEqual(q.quizPhase(11000, true, true, 5000, 6000), "podium");

// The participant page: the answer field of a quiz, and its own result in words.
assert.deepStrictEqual(h.answerFields({ kind: "quiz", multiple: false }, 2), { option: 2 });
assert.deepStrictEqual(h.answerFields({ kind: "quiz", multiple: true }, [2, 0]), { options: [0, 2] });
assert.strictEqual(h.answerText({ kind: "quiz", options: ["2", "4", "5"] }, { kind: "quiz", options: [0, 2] }), "2, 5");
let t = h.quizResultText({ correct: true, points: 850, bonus: 100, streak: 2, score: 1750, rank: 2 }, true, 3);
assert.deepStrictEqual(t, {
  verdict: "Correct!",
  points: "+850 points · +100 streak bonus (2 in a row)",
  standing: "Your score: 1750 · rank 2 of 3",
});
t = h.quizResultText({ correct: false, points: 0, bonus: 0, streak: 0, score: 900, rank: 1 }, true, null);
assert.deepStrictEqual(t, { verdict: "Wrong answer", points: "No points", standing: "Your score: 900 · rank 1" });
t = h.quizResultText({ correct: false, points: 0, score: 0, rank: 3 }, false, 3);
assert.strictEqual(t.verdict, "No answer");
assert.strictEqual(h.quizResultText({ correct: true, points: 1, score: 1, rank: 1 }, true, 1).points, "+1 point");
// A quiz's counts are per option chosen, its percentages of respondents (as multiple choice).
const v = h.aggregateRows({ kind: "quiz", options: ["2", "4", "5"], multiple: true }, { counts: [2, 1, 2], total: 2 });
assert.deepStrictEqual(v.rows.map((r) => r.pct), ["100%", "50%", "100%"]);
console.log("quiz page helpers ok");
