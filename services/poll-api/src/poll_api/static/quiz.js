// Quiz parts of the host console and the presenter view: the correct answer, the leaderboard
// (GET /api/polls/{ROOM}/leaderboard, the `leaderboard` frame's content) and the podium.
// User text (nicknames, options) only ever goes in textContent.

// ---- pure helpers (unit-tested with node: tests/poll_api/test_quiz_pages.py) ----------------

/** The index of the run's last quiz question (by index), or -1 without one. */
export function lastQuizIndex(run) {
  let last = -1;
  for (const question of run || []) {
    if (question && question.spec && question.spec.kind === "quiz" && question.index > last) {
      last = question.index;
    }
  }
  return last;
}

/** Whether a board is the one after the run's last quiz question: the podium's moment. */
export function isFinalBoard(board, run) {
  return Boolean(board) && Number.isInteger(board.question) && board.question === lastQuizIndex(run);
}

/** "Correct answer: Paris" / "Correct answers: 2, 5"; "" without any. */
export function correctText(spec, correct) {
  if (!Array.isArray(correct) || correct.length === 0) {
    return "";
  }
  const options = (spec && spec.options) || [];
  const labels = correct.map((i) => (typeof options[i] === "string" ? options[i] : "#" + (i + 1)));
  return (labels.length === 1 ? "Correct answer: " : "Correct answers: ") + labels.join(", ");
}

/** The correct options to show for a closed quiz question: the board's when it scored this
 * question (public after the close), else the host's results' `correct`, else null. */
export function correctOf(question, board, results) {
  if (!question || question.spec.kind !== "quiz" || question.status !== "closed") {
    return null;
  }
  if (board && board.qid === question.qid && Array.isArray(board.correct_options) && board.correct_options.length) {
    return board.correct_options;
  }
  return results && Array.isArray(results.correct) ? results.correct : null;
}

/** "After question 3 · 5 participants ranked". */
export function boardCaption(board) {
  if (!board || !Number.isInteger(board.question)) {
    return "No quiz question is scored yet.";
  }
  const n = board.participants || 0;
  return "After question " + (board.question + 1) + " · " + n + (n === 1 ? " participant" : " participants") + " ranked";
}

/** The podium's places, first to third (those there are); CSS stands them second, first,
 * third, so a screen reader still reads them in order. A shared rank shares its step height. */
export function podiumPlaces(top) {
  return (top || []).slice(0, 3).map((row, i) => ({
    place: i + 1,
    rank: row.rank,
    nickname: row.nickname,
    score: row.score,
  }));
}

/** The presenter's step for a closed quiz question `sinceMs` after it first showed it closed:
 * the answer, then the leaderboard once this question is scored, then (after the last quiz
 * question) the podium. */
export function quizPhase(sinceMs, scored, final, answerMs, boardMs) {
  if (!scored || sinceMs < answerMs) {
    return "answer";
  }
  return final && sinceMs >= answerMs + boardMs ? "podium" : "board";
}

// ---- drawing ---------------------------------------------------------------------------------

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

/** Mark the correct options' bars in a results list drawn by renderAggregate. */
export function markCorrect(list, correct) {
  const wanted = new Set(Array.isArray(correct) ? correct.map(String) : []);
  for (const item of list.children) {
    const right = wanted.has(item.dataset.index);
    item.classList.toggle("correct", right);
    let mark = item.querySelector(".bar-mark");
    if (right && !mark) {
      mark = el("span", "bar-mark");
      item.querySelector(".bar-label").after(mark);
    }
    if (mark) {
      mark.textContent = right ? "✓ Correct" : "";
    }
  }
}

/** The leaderboard as an ordered list (rank, nickname, score); rows slide in when `fresh`. */
export function renderLeaders(list, top, fresh) {
  const rows = top || [];
  if (list.children.length !== rows.length) {
    list.replaceChildren(
      ...rows.map(() => {
        const item = el("li", "leader");
        item.append(el("span", "leader-rank"), el("span", "leader-name"), el("span", "leader-score"));
        return item;
      })
    );
  }
  rows.forEach((row, position) => {
    const item = list.children[position];
    item.dataset.rank = String(row.rank);
    item.querySelector(".leader-rank").textContent = String(row.rank);
    item.querySelector(".leader-name").textContent = row.nickname;
    item.querySelector(".leader-score").textContent = String(row.score);
    if (fresh) {
      item.classList.remove("enter");
      void item.offsetWidth; // restart the animation
      item.style.animationDelay = position * 90 + "ms"; // CSSOM: allowed by the CSP
      item.classList.add("enter");
    }
  });
}

/** The top three on their steps (the step's height is the rank's: a tie stands level). */
export function renderPodium(list, top) {
  list.replaceChildren(
    ...podiumPlaces(top).map((p) => {
      const item = el("li", "step place-" + p.place + " rank-" + Math.min(p.rank, 3));
      item.dataset.place = String(p.place);
      const block = el("span", "step-block");
      block.append(el("span", "visually-hidden", "rank "), document.createTextNode(String(p.rank)));
      item.append(el("span", "step-name", p.nickname), el("span", "step-score", p.score + " points"), block);
      return item;
    })
  );
}

/** The console's full table: one row per participant (rank, nickname, score). */
export function renderBoardTable(body, top) {
  const rows = top || [];
  if (body.children.length !== rows.length) {
    body.replaceChildren(
      ...rows.map(() => {
        const tr = el("tr");
        tr.append(el("td", "num"), el("td"), el("td", "num"));
        return tr;
      })
    );
  }
  rows.forEach((row, position) => {
    const cells = body.children[position].children;
    cells[0].textContent = String(row.rank);
    cells[1].textContent = row.nickname;
    cells[2].textContent = String(row.score);
  });
}
