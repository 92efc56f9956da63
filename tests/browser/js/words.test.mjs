// The word cloud's pure layout helpers (poll-api's wordcloud.js) and the participant page's
// word helpers (ws-gateway's words.js), under node: node words.test.mjs WORDCLOUD_MJS WORDS_JS
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const cloud = await import(pathToFileURL(process.argv[2]).href);
const words = createRequire(import.meta.url)(process.argv[3]);

// Size: the square root of the share of the top count, between the floor and the ceiling.
assert.equal(cloud.sizeFor(10, 10, 16, 80), 80);
assert.equal(cloud.sizeFor(0, 10, 16, 80), 16);
assert.equal(cloud.sizeFor(1, 4, 16, 80), 48); // sqrt(1/4) = 1/2 of the range
assert.ok(cloud.sizeFor(2, 8, 16, 80) < cloud.sizeFor(4, 8, 16, 80));

// A hash is stable (the same layout on every reload) and spreads words.
assert.equal(cloud.hashOf("python"), cloud.hashOf("python"));
assert.notEqual(cloud.hashOf("python"), cloud.hashOf("rust"));

// Places: inside the stage and never on top of each other; the first one at the centre.
const placed = [];
for (let i = 0; i < 40; i += 1) {
  const box = cloud.findPlace(60 + (i % 5) * 20, 24, placed, 800, 450, cloud.hashOf("w" + i));
  assert.ok(box, "a place for word " + i);
  assert.ok(cloud.fits(box, placed, 800, 450));
  placed.push(box);
}
assert.ok(placed[0].x === 0 && placed[0].y === 0); // -0 is the centre too
// A box that no longer fits where it was (it grew into a neighbour) must look again.
const grown = { x: placed[1].x, y: placed[1].y, w: 400, h: 120 };
assert.equal(cloud.fits(grown, [placed[0]], 800, 450), false);
// No room left: null, never a box off the stage.
assert.equal(cloud.findPlace(900, 30, [], 800, 450, 1), null);

// The participant page: empty fields are left out, the rest trimmed.
assert.deepEqual(words.wordsOf([" Python ", "", "  ", "Go"]), ["Python", "Go"]);
const view = words.rows({ words: [{ word: "Python", count: 4 }, { word: "Go", count: 1 }], distinct: 2, total: 4 });
assert.deepEqual(view.rows.map((r) => [r.label, r.count, r.width]), [["Python", 4, 100], ["Go", 1, 25]]);
assert.equal(view.total, 4);
assert.equal(view.summary.value, "2");
assert.deepEqual(words.rows(null).rows, []);

console.log("word helpers ok");
