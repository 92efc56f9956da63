// Host links: continue hosting on another device. A link's key travels in the URL fragment
// (never sent to a server); the console on the other device keeps it in sessionStorage.
// User text only ever goes in textContent.

import { $, api } from "./common.js";

const ui = {
  make: $("make-host-link"),
  label: $("host-link-label"),
  made: $("host-link-url"),
  list: $("host-links"),
  note: $("host-link-note"),
};

let current = { room: null, token: null };

function describe(result) {
  if (result.status === 0) {
    return "the server cannot be reached";
  }
  const detail = result.data && result.data.detail;
  return typeof detail === "string" ? detail : "error " + result.status;
}

async function load() {
  const { room, token } = current;
  const result = await api("/api/polls/" + room + "/host-links", { token });
  if (!result.ok || room !== current.room) {
    return;
  }
  ui.list.replaceChildren(
    ...result.data.links.map((link) => {
      const item = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = (link.label || "Host link") + (link.revoked_at ? " (revoked)" : "");
      item.append(name);
      if (!link.revoked_at) {
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "secondary";
        revoke.textContent = "Revoke";
        revoke.addEventListener("click", () => revokeLink(link.id));
        item.append(" ", revoke);
      }
      return item;
    }),
  );
}

async function makeLink() {
  const { room, token } = current;
  const label = ui.label.value.trim();
  const result = await api("/api/polls/" + room + "/host-links", {
    method: "POST",
    token,
    body: label ? { label } : {},
  });
  if (!result.ok) {
    ui.note.textContent = "No link made: " + describe(result);
    return;
  }
  ui.made.value = result.data.url;
  ui.made.hidden = false;
  ui.made.select();
  ui.note.textContent = "Open this link on the other device. It works until you revoke it.";
  ui.label.value = "";
  await load();
}

async function revokeLink(id) {
  const { room, token } = current;
  const result = await api("/api/polls/" + room + "/host-links/" + id, {
    method: "DELETE",
    token,
  });
  ui.note.textContent = result.ok ? "The link was revoked." : "Not revoked: " + describe(result);
  await load();
}

export function startHostLinks(room, token) {
  current = { room, token };
  ui.made.value = "";
  ui.made.hidden = true;
  ui.note.textContent = "";
  load();
}

if (ui.make) {
  ui.make.addEventListener("click", makeLink);
}
