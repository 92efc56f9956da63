// Zephyr host console, following the live connection (host_live.js): tallies redraw the
// results at once, presence the counts; a state change, or a `changed` frame about the word
// list on screen or the quiz's leaderboard, is read from poll-api once. host.js hands over what
// it draws with.
import { onLiveFrame, onLiveStatus, presenceText, stateDiffers } from "./host_live.js";

const STATE_SETTLE_MS = 100; // poll_state frames of one change come together: one read

/**
 * hooks: {state, render, refresh, refreshWords, refreshBoard, currentQuestion, presenceNode,
 * setApiStatus}
 * (state.results: qid -> aggregate; state.presence: the latest presence frame).
 */
export function followLive(hooks) {
  const { state } = hooks;
  let pending = null;
  const refreshSoon = () => {
    if (pending === null) {
      pending = window.setTimeout(() => {
        pending = null;
        hooks.refresh();
      }, STATE_SETTLE_MS);
    }
  };
  onLiveFrame("tally", (frame) => {
    const { type, question, ...aggregate } = frame;
    state.results[frame.qid] = Object.assign({}, state.results[frame.qid], aggregate);
    hooks.render();
  });
  onLiveFrame("poll_state", (frame) => (stateDiffers(state.poll, frame) ? refreshSoon() : null));
  onLiveFrame("presence", (frame) => {
    state.presence = frame;
    hooks.presenceNode.hidden = false;
    hooks.presenceNode.textContent = presenceText(frame);
    hooks.render();
  });
  onLiveFrame("changed", (frame) => {
    const current = hooks.currentQuestion();
    if (frame.what === "words" && current && current.index === frame.question) {
      hooks.refreshWords();
    } else if (frame.what === "leaderboard") {
      hooks.refreshBoard();
    }
  });
  onLiveStatus((up) => {
    if (up) {
      hooks.setApiStatus("live", "Live");
      hooks.refresh(); // once: what changed while it was down
    } else {
      hooks.presenceNode.hidden = true;
    }
  });
}
