// The host's account in the console: sign up, sign in, sign out, "my polls". The access token
// (minutes) and the refresh token live in sessionStorage, like host tokens: they die with the
// tab. The access token is renewed a minute before it expires. User text only in textContent.

import { $, api } from "./common.js";

const KEY = "zephyr.account";
const RENEW_BEFORE_MS = 60_000;

const ui = {
  box: $("account-box"),
  form: $("account-form"),
  email: $("account-email"),
  password: $("account-password"),
  signUp: $("account-signup"),
  error: $("account-error"),
  signedIn: $("account-signed-in"),
  who: $("account-who"),
  signOut: $("account-signout"),
  polls: $("my-polls"),
};

const listeners = [];
let renewTimer = null;

function stored() {
  try {
    return JSON.parse(window.sessionStorage.getItem(KEY) || "null");
  } catch (e) {
    return null;
  }
}

function store(value) {
  try {
    if (value) {
      window.sessionStorage.setItem(KEY, JSON.stringify(value));
    } else {
      window.sessionStorage.removeItem(KEY);
    }
  } catch (e) {
    // without storage the account lasts until the page is left
  }
}

/** The access token of the signed-in account, or null. */
export function accountToken() {
  const account = stored();
  return account && account.expiresAt > Date.now() ? account.accessToken : null;
}

/** Call `listener(token)` whenever the access token is renewed (or null on sign-out). */
export function onAccountToken(listener) {
  listeners.push(listener);
}

function keep(data) {
  const account = {
    accessToken: data.access_token,
    refreshToken: data.refresh_token,
    expiresAt: Date.now() + data.expires_in * 1000,
    email: data.account.email,
  };
  store(account);
  scheduleRenewal(account);
  listeners.forEach((listener) => listener(account.accessToken));
  return account;
}

function scheduleRenewal(account) {
  window.clearTimeout(renewTimer);
  const wait = Math.max(1000, account.expiresAt - Date.now() - RENEW_BEFORE_MS);
  renewTimer = window.setTimeout(renew, wait);
}

async function renew() {
  const account = stored();
  if (!account) {
    return;
  }
  const result = await api("/api/auth/refresh", {
    method: "POST",
    body: { refresh_token: account.refreshToken },
  });
  if (result.ok) {
    keep(result.data);
  } else if (result.status === 0) {
    renewTimer = window.setTimeout(renew, 5000); // offline: try again soon
  } else {
    forget();
  }
}

function forget() {
  window.clearTimeout(renewTimer);
  store(null);
  listeners.forEach((listener) => listener(null));
  render();
}

function describe(result) {
  if (result.status === 0) {
    return "the server cannot be reached";
  }
  const detail = result.data && result.data.detail;
  if (Array.isArray(detail)) {
    return detail.map((p) => (p.loc || []).slice(-1)[0] + ": " + p.msg).join("; ");
  }
  return typeof detail === "string" ? detail : "error " + result.status;
}

async function signIn(path) {
  ui.error.textContent = "";
  const result = await api(path, {
    method: "POST",
    body: { email: ui.email.value.trim(), password: ui.password.value },
  });
  if (!result.ok) {
    ui.error.textContent = "Not signed in: " + describe(result);
    return;
  }
  ui.password.value = "";
  keep(result.data);
  render();
}

async function signOut() {
  const account = stored();
  if (account) {
    await api("/api/auth/logout", { method: "POST", body: { refresh_token: account.refreshToken } });
  }
  forget();
}

async function showPolls() {
  const token = accountToken();
  if (!token) {
    return;
  }
  const result = await api("/api/me/polls", { token });
  if (!result.ok) {
    return;
  }
  ui.polls.replaceChildren(
    ...result.data.polls.map((poll) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = "/host/" + poll.room_code;
      link.textContent = poll.title || poll.room_code;
      const facts = document.createElement("span");
      facts.className = "facts";
      facts.textContent =
        (poll.title ? " " + poll.room_code : "") + " · " + poll.status + " · " +
        poll.questions + (poll.questions === 1 ? " question · " : " questions · ") +
        poll.participants + (poll.participants === 1 ? " participant" : " participants");
      item.append(link, facts);
      return item;
    }),
  );
}

function render() {
  const account = stored();
  const signedIn = Boolean(account && accountToken());
  ui.form.hidden = signedIn;
  ui.signedIn.hidden = !signedIn;
  if (signedIn) {
    ui.who.textContent = account.email;
    showPolls();
  } else {
    ui.polls.replaceChildren();
  }
}

/** Show the account box (on the page that creates polls). */
export function showAccount() {
  ui.box.hidden = false;
  render();
}

if (ui.box) {
  ui.form.addEventListener("submit", (event) => {
    event.preventDefault();
    signIn("/api/auth/login");
  });
  ui.signUp.addEventListener("click", () => signIn("/api/auth/signup"));
  ui.signOut.addEventListener("click", signOut);
  const account = stored();
  if (account) {
    if (account.expiresAt - Date.now() < RENEW_BEFORE_MS) {
      renew();
    } else {
      scheduleRenewal(account);
    }
  }
}
