// The single-page front end: plain JavaScript, no build step. The session is the cookie the
// browser keeps; every state-changing request carries the CSRF token from /api/session in
// the X-CSRF-Token header. Logging in rotates the token, so the page asks for it again.
"use strict";

let csrfToken = "";
const $ = (sel) => document.querySelector(sel);

// api sends a request that asks for JSON answers (accounts then answers JSON, not pages).
async function api(method, url, body, contentType) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = contentType;
  const resp = await fetch(url, { method, headers, body, credentials: "same-origin" });
  let data = null;
  try {
    data = await resp.json();
  } catch {
    // not JSON: the status says enough
  }
  return { status: resp.status, data };
}

function item(text) {
  const li = document.createElement("li");
  li.textContent = text; // text, never HTML
  return li;
}

// refresh takes the session's user and a fresh token, and shows the login or the notes.
async function refresh() {
  const { data } = await api("GET", "/api/session");
  csrfToken = data.csrfToken;
  $("#login").hidden = data.user !== "";
  $("#app").hidden = data.user === "";
  if (data.user === "") return;
  $("#hello").textContent = "Hello, " + data.user;
  const notes = await api("GET", "/api/notes");
  $("#notes").replaceChildren(...notes.data.map(item));
}

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const body = new URLSearchParams(new FormData(form));
  const { status, data } = await api("POST", "/accounts/login", body, "application/x-www-form-urlencoded");
  form.password.value = "";
  if (status === 200 && data.errors) {
    $("#errors").replaceChildren(...data.errors.map(item)); // wrong username or password
    return;
  }
  if (status !== 200 || !data.redirect) {
    $("#errors").replaceChildren(item((data && data.message) || "Logging in failed (" + status + ")."));
    return;
  }
  if (data.redirect.startsWith("/accounts/")) {
    window.location.assign(data.redirect); // a second step (two-factor): the accounts pages
    return;
  }
  $("#errors").replaceChildren();
  await refresh();
});

$("#note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const { status, data } = await api("POST", "/api/notes", JSON.stringify({ text: form.text.value }), "application/json");
  if (status !== 201) {
    $("#status").textContent = "Not saved (" + status + ")" + (data && data.error ? ": " + data.error : ".");
    return;
  }
  $("#notes").append(item(data.text));
  form.reset();
});

$("#logout").addEventListener("click", async () => {
  await api("POST", "/accounts/logout");
  await refresh();
});

refresh();
