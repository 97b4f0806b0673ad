// The labeling page (docs/LABELING.md). No build step: plain browser JavaScript.
// Every label lives in localStorage until POST /v1/feedback acknowledges it (the label is then durably
// stored; its label_id makes a re-send harmless), so a reload or a lost connection loses nothing.
"use strict";

const S = {
  key: "t2ia.key", round: "t2ia.round", pending: "t2ia.pending", batch: "t2ia.batch", next: "t2ia.next",
  rejected: "t2ia.rejected",
};
const CHOICES = ["good", "bad", "skip"];
const $ = (sel) => document.querySelector(sel);
const load = (k, d) => { try { const v = localStorage.getItem(k); return v === null ? d : JSON.parse(v); } catch { return d; } };
const save = (k, v) => localStorage.setItem(k, JSON.stringify(v));

let batch = load(S.batch, null);      // {task, round_id, choices: {image_key: {choice, label_id}}, order: [image_key]}
let nextTask = load(S.next, null);    // the prefetched {task, round_id}
let focus = 0;
let flushing = false, fetching = false, retryMs = 1000, retryTimer = null, lastInfo = null, finished = false;

// Deterministic per rater and image ("<rater>.<image id>"), so a label given again after a lost answer, a
// reload or on another tab is a duplicate on the server, never a second label.
function labelId(raterId, imageKey) {
  const image = imageKey.split("/").pop().replace(/\.png$/, "");
  return ((raterId || "r") + "." + image).replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 128);
}

function authHeaders() { return { Authorization: "Bearer " + localStorage.getItem(S.key) }; }

function message(text, error = false) {
  const m = $("[data-message]");
  m.textContent = text;
  m.classList.toggle("error", error);
}

// Pending labels ------------------------------------------------------------------------------------------
function pending() { return load(S.pending, []); }

function showPending() {
  $("[data-pending]").textContent = String(pending().length);
}

function pendingTasks() { return [...new Set(pending().map((p) => p.task_id))]; }

async function flush() {
  if (flushing) return;
  const queue = pending();
  if (!queue.length) { showPending(); return; }
  flushing = true;
  const round = queue[0].round_id;
  const chunk = queue.filter((p) => p.round_id === round).slice(0, 100);
  let retry = false;
  try {
    const res = await fetch("/v1/feedback", {
      method: "POST",
      headers: { ...authHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify({ round_id: round, labels: chunk.map((p) => p.label) }),
    });
    if (res.ok) {
      drop(chunk);
      retryMs = 1000;
    } else if (res.status === 401 || res.status === 403) {
      message("The server refused this key; labels stay pending. Use 'change key'.", true);
      retry = true;
    } else if (res.status >= 500 || res.status === 408 || res.status === 429) {
      retry = true;
    } else {  // refused for good (e.g. the round ended): keep them aside, visible, not retried
      const body = await res.json().catch(() => ({}));
      const why = (body.error && body.error.message) || res.statusText;
      save(S.rejected, [...load(S.rejected, []), ...chunk.map((p) => ({ ...p, why }))]);
      drop(chunk);
      message(`${chunk.length} label(s) were refused: ${why}`, true);
    }
  } catch (e) {
    retry = true;  // offline or the connection dropped: try again
  } finally {
    flushing = false;
    showPending();
  }
  if (retry) scheduleRetry();
  else if (pending().length) flush();
  else if (finished) getNext();
}

function drop(chunk) {
  const ids = new Set(chunk.map((p) => p.label.label_id));
  save(S.pending, pending().filter((p) => !ids.has(p.label.label_id)));
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  retryTimer = setTimeout(flush, retryMs);
  retryMs = Math.min(retryMs * 2, 15000);
}

// Tasks ---------------------------------------------------------------------------------------------------
async function fetchTask(exclude) {
  const q = new URLSearchParams({ round: localStorage.getItem(S.round) || "", exclude: exclude.join(",") });
  const res = await fetch("/v1/label/next?" + q, { headers: authHeaders() });
  const body = await res.json();
  if (!res.ok) throw new Error((body.error && body.error.message) || res.statusText);
  lastInfo = body;
  showProgress();
  return body;
}

function held() {
  const ids = pendingTasks();
  if (batch) ids.push(batch.task.task_id);
  if (nextTask) ids.push(nextTask.task.task_id);
  return ids;
}

function promote() {  // show the prefetched batch (no network needed)
  if (batch || !nextTask) return;
  batch = { ...nextTask, choices: {}, order: [] };
  nextTask = null;
  save(S.batch, batch); save(S.next, null);
  render();
}

let again = false;
async function getNext() {
  promote();
  if (fetching) { again = true; return; }
  fetching = true;
  let failed = false;
  try {
    if (!batch) {
      const body = await fetchTask(held());
      if (body.done) { finished = true; render(); return; }
      finished = false;
      batch = { task: body.task, round_id: body.round_id, rater_id: body.rater_id, choices: {}, order: [] };
      save(S.batch, batch);
      render();
    }
    if (!nextTask) {  // prefetch the next batch and its images
      const body = await fetchTask(held());
      if (!body.done) {
        nextTask = { task: body.task, round_id: body.round_id, rater_id: body.rater_id };
        save(S.next, nextTask);
        for (const im of nextTask.task.images) new Image().src = im.url;
      }
    }
  } catch (e) {
    failed = true;
    if (!batch) message("Could not load images (" + e.message + "); retrying…", true);
  } finally {
    fetching = false;
  }
  if (failed) setTimeout(getNext, 3000);
  else if (again) { again = false; getNext(); }
}

function showProgress() {
  const mine = pending().length + (lastInfo ? lastInfo.progress.mine : 0);
  const round = lastInfo ? `round ${lastInfo.round_id}: ${lastInfo.progress.rated}/${lastInfo.labels_to_train} rated · ` : "";
  $("[data-progress]").textContent = `${round}your labels: ${mine}`;
}

// Rendering -----------------------------------------------------------------------------------------------
function render() {
  const cards = $("#cards");
  cards.replaceChildren();
  if (!batch) {
    $("[data-prompt]").textContent = "";
    message(finished ? "No more images to label in this round. Thank you!" : "Loading…");
    return;
  }
  message("");
  $("[data-prompt]").textContent = batch.task.prompt;
  batch.task.images.forEach((im, i) => {
    const card = document.createElement("figure");
    card.className = "card";
    card.tabIndex = 0;
    card.dataset.imageKey = im.key;
    const img = document.createElement("img");
    img.src = im.url;
    img.alt = `image ${i + 1} for the prompt`;
    img.onerror = () => { setTimeout(() => { img.src = im.url + "&retry=" + Date.now(); }, 2000); };
    const row = document.createElement("div");
    row.className = "choices";
    CHOICES.forEach((c, j) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.label = c;
      b.textContent = `${c[0].toUpperCase() + c.slice(1)} (${j + 1})`;
      b.addEventListener("click", () => { focus = i; choose(im.key, c); });
      row.append(b);
    });
    card.append(img, row);
    card.addEventListener("focus", () => { focus = i; paintFocus(); });
    cards.append(card);
  });
  paint();
}

function paint() {
  if (!batch) return;
  document.querySelectorAll(".card").forEach((card) => {
    const c = batch.choices[card.dataset.imageKey];
    card.dataset.choice = c ? c.choice : "";
    card.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(!!c && b.dataset.label === c.choice)));
  });
  paintFocus();
}

function paintFocus() {
  document.querySelectorAll(".card").forEach((card, i) => card.classList.toggle("focused", i === focus));
}

// Choosing, undo, the keyboard ----------------------------------------------------------------------------
function choose(imageKey, choice) {
  if (!batch) return;
  if (!batch.choices[imageKey]) batch.order.push(imageKey);
  batch.choices[imageKey] = { choice, label_id: labelId(batch.rater_id, imageKey) };
  const keys = batch.task.images.map((im) => im.key);
  const open = keys.findIndex((k) => !batch.choices[k]);
  if (open === -1) return commit();
  focus = open;
  save(S.batch, batch);
  paint();
}

function commit() {  // the whole batch is marked: queue its labels (durably, here) and show the next batch
  const labels = batch.task.images.map((im) => ({
    round_id: batch.round_id,
    task_id: batch.task.task_id,
    label: { label_id: batch.choices[im.key].label_id, image_key: im.key, choice: batch.choices[im.key].choice },
  }));
  save(S.pending, [...pending(), ...labels]);
  batch = null;
  focus = 0;
  save(S.batch, null);
  showPending();
  showProgress();
  getNext();
  flush();
}

function undo() {
  if (!batch || !batch.order.length) { message("Nothing to undo in this batch (sent batches are final)."); return; }
  const key = batch.order.pop();
  delete batch.choices[key];
  focus = batch.task.images.findIndex((im) => im.key === key);
  save(S.batch, batch);
  paint();
}

document.addEventListener("keydown", (e) => {
  if ($("#work").hidden || e.target.tagName === "INPUT" || e.ctrlKey || e.metaKey || e.altKey) return;
  const n = batch ? batch.task.images.length : 0;
  if (["1", "2", "3"].includes(e.key) && batch) {
    e.preventDefault();
    choose(batch.task.images[focus].key, CHOICES[Number(e.key) - 1]);
  } else if ((e.key === "ArrowRight" || e.key === "ArrowDown") && n) {
    e.preventDefault(); focus = (focus + 1) % n; paintFocus();
  } else if ((e.key === "ArrowLeft" || e.key === "ArrowUp") && n) {
    e.preventDefault(); focus = (focus + n - 1) % n; paintFocus();
  } else if (e.key === "u" || e.key === "U" || e.key === "Backspace") {
    e.preventDefault(); undo();
  }
});

// Start ---------------------------------------------------------------------------------------------------
function net() {
  const el = $("[data-net]");
  el.textContent = navigator.onLine ? "online" : "offline";
  el.classList.toggle("off", !navigator.onLine);
}

function start() {
  $("#login").hidden = true;
  $("#work").hidden = false;
  showPending();
  render();
  getNext();
  flush();
}

window.addEventListener("online", () => { net(); retryMs = 1000; flush(); getNext(); });
window.addEventListener("offline", net);
setInterval(() => { if (pending().length && !flushing) flush(); }, 5000);
$("#undo").addEventListener("click", undo);
$("#logout").addEventListener("click", () => { localStorage.removeItem(S.key); location.reload(); });
$("#login").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(S.key, $("#key").value.trim());
  localStorage.setItem(S.round, $("#round").value.trim());
  start();
});

(function init() {
  const hash = new URLSearchParams(location.hash.slice(1));  // /label#key=...&round=... (then removed)
  if (hash.get("key")) localStorage.setItem(S.key, hash.get("key"));
  if (hash.has("round")) localStorage.setItem(S.round, hash.get("round"));
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  const round = new URLSearchParams(location.search).get("round");
  if (round !== null) localStorage.setItem(S.round, round);
  net();
  if (localStorage.getItem(S.key)) start();
  else { $("#login").hidden = false; $("#work").hidden = true; }
})();
