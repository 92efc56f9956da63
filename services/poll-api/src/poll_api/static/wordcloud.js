// Zephyr's word cloud for the presenter view: each word's size follows its count (the square
// root, so a word twice as popular is not four times the ink), and placement is stable: a word
// keeps its place while counts change, as long as it still fits there; only a word that grew
// into a neighbour, or a new word, looks for a place, on a spiral out from the centre. The
// biggest words are placed first, so a fresh cloud (a reload) has the most popular ones at the
// centre; while it is live, stability wins: the early words keep their places as they grow.
//
// Words are drawn with textContent and positioned through the CSSOM (no style attribute, no
// markup): whatever participants typed stays text, under a CSP without 'unsafe-inline'.

const PALETTE = 6; // .cloud-word.c0 … c5 in host.css: high-contrast colours for a projector
const SPIRAL_STEPS = 1800;
const GAP = 10; // px between two words

/** A small stable hash of a word, for its colour and where its search for a place starts. */
export function hashOf(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** Font size in px for `count` of `top`, between `low` and `high` (square-root scale). */
export function sizeFor(count, top, low, high) {
  if (top <= 0 || count <= 0) {
    return low;
  }
  return Math.round(low + (high - low) * Math.sqrt(Math.min(count, top) / top));
}

function overlaps(a, b) {
  return !(
    a.x + a.w / 2 + GAP <= b.x - b.w / 2 ||
    b.x + b.w / 2 + GAP <= a.x - a.w / 2 ||
    a.y + a.h / 2 + GAP <= b.y - b.h / 2 ||
    b.y + b.h / 2 + GAP <= a.y - a.h / 2
  );
}

/** Whether a box (centre x, y relative to the middle) fits inside w × h and clear of `placed`. */
export function fits(box, placed, width, height) {
  const inside =
    Math.abs(box.x) + box.w / 2 <= width / 2 && Math.abs(box.y) + box.h / 2 <= height / 2;
  return inside && placed.every((other) => !overlaps(box, other));
}

/** A free place for a box of w × h on a spiral from the centre; null when none is left. */
export function findPlace(w, h, placed, width, height, seed) {
  const turn = ((seed % 360) * Math.PI) / 180;
  const stretch = width / Math.max(1, height); // a wide screen: a wide spiral
  for (let step = 0; step < SPIRAL_STEPS; step += 1) {
    const t = step * 0.15;
    const r = 2.5 * t;
    const box = {
      x: Math.round(r * Math.cos(t + turn) * stretch),
      y: Math.round(r * Math.sin(t + turn)),
      w: w,
      h: h,
    };
    if (fits(box, placed, width, height)) {
      return box;
    }
  }
  return null;
}

/**
 * Draw `words` ([{word, count}], most entered first) in `container`. Called again with new
 * counts, it moves only the words that must move. Returns how many words are on screen.
 */
export function drawCloud(container, words) {
  const state = container.zephyrCloud || { items: new Map(), width: 0, height: 0 };
  container.zephyrCloud = state;
  const width = container.clientWidth;
  const height = container.clientHeight;
  state.words = words;
  if (width !== state.width || height !== state.height) {
    // Another screen size (the projector window was resized): every word is sized and placed
    // again for it.
    for (const item of state.items.values()) {
      item.size = 0;
      item.box = null;
    }
    state.width = width;
    state.height = height;
  }
  if (!state.observer && typeof ResizeObserver === "function") {
    state.observer = new ResizeObserver(() => {
      if (container.clientWidth !== state.width || container.clientHeight !== state.height) {
        drawCloud(container, state.words);
      }
    });
    state.observer.observe(container);
  }
  const high = Math.max(24, Math.min(height / 5, width / 9));
  const low = Math.max(16, high / 4.5);
  const top = words.reduce((m, w) => Math.max(m, w.count), 0);
  const wanted = new Set();
  const placed = [];
  let shown = 0;
  for (const entry of words) {
    const key = String(entry.word).toLowerCase();
    if (wanted.has(key)) {
      continue;
    }
    wanted.add(key);
    let item = state.items.get(key);
    if (!item) {
      const node = document.createElement("span");
      node.className = "cloud-word c" + (hashOf(key) % PALETTE);
      container.append(node);
      item = { node: node, box: null, size: 0 };
      state.items.set(key, item);
    }
    item.node.textContent = String(entry.word);
    item.node.title = entry.word + ": " + entry.count;
    item.node.dataset.count = String(entry.count);
    const size = sizeFor(entry.count, top, low, high);
    if (size !== item.size || !item.box) {
      item.node.style.fontSize = size + "px";
      item.size = size;
    }
    item.node.hidden = false; // measured at its size: a hidden node measures 0
    const w = item.node.offsetWidth;
    const h = item.node.offsetHeight;
    let box = item.box ? { x: item.box.x, y: item.box.y, w: w, h: h } : null;
    if (!box || !fits(box, placed, width, height)) {
      box = findPlace(w, h, placed, width, height, hashOf(key));
    }
    item.box = box;
    item.node.hidden = box === null;
    if (box === null) {
      continue; // no room left on this screen: the word is still counted, just not drawn
    }
    placed.push(box);
    shown += 1;
    item.node.style.left = Math.round(width / 2 + box.x - w / 2) + "px";
    item.node.style.top = Math.round(height / 2 + box.y - h / 2) + "px";
  }
  for (const [key, item] of state.items) {
    if (!wanted.has(key)) {
      item.node.remove(); // hidden by the host, or out of the top 100
      state.items.delete(key);
    }
  }
  return shown;
}

/** The presenter's word cloud of a results body ({words, total}); returns its total. */
export function renderCloud(container, aggregate) {
  drawCloud(container, Array.isArray(aggregate.words) ? aggregate.words : []);
  return Number.isInteger(aggregate.total) ? aggregate.total : 0;
}
