// The labeling admin page (docs/LABELING.md): GET /v1/admin/label/stats every 5 s; export as JSONL.
"use strict";
const KEY = "t2ia.adminkey";
const $ = (s) => document.querySelector(s);
const fmt = (x, d = 2) => (x === null || x === undefined ? "–" : Number(x).toFixed(d));
const pct = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(0) + "%");
const auth = () => ({ Authorization: "Bearer " + localStorage.getItem(KEY) });

function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => (k === "text" ? (e.textContent = v) : e.setAttribute(k, v)));
  e.append(...kids);
  return e;
}

function table(head, rows) {
  return el("table", {}, el("tr", {}, ...head.map((h) => el("th", { text: h }))),
    ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: String(c) })))));
}

async function exportRound(id) {
  const res = await fetch("/v1/admin/feedback/export?round=" + encodeURIComponent(id), { headers: auth() });
  const a = el("a", { href: URL.createObjectURL(await res.blob()), download: `feedback-${id}.jsonl` });
  a.click();
}

async function refresh() {
  const res = await fetch("/v1/admin/label/stats", { headers: auth() });
  const body = await res.json();
  if (!res.ok) { $("#rounds").replaceChildren(el("p", { class: "message error", text: body.error.message })); return; }
  const sections = body.rounds.map((r) => {
    const btn = el("button", { type: "button", text: "Export JSONL" });
    btn.addEventListener("click", () => exportRound(r.round_id));
    return el("section", { "data-round": r.round_id },
      el("h2", { text: `Round ${r.round_id} · ${r.state}` }),
      table(["labels", "rated / to train", "gold images", "overlap pairs", "kappa", "raw agreement"],
        [[r.num_labels, `${r.num_rated} / ${r.labels_to_train}`, r.num_gold_images, r.overlap_pairs,
          fmt(r.kappa), pct(r.agreement)]]),
      table(["rater", "labels", "skips", "gold accuracy (n)", "pace (labels/min)", "last label"],
        r.raters.map((x) => [x.rater_id, x.labels, x.skips, `${pct(x.gold_accuracy)} (${x.gold_labels})`,
          fmt(x.labels_per_min, 1), x.last_at.replace("T", " ").slice(0, 19)])),
      btn);
  });
  $("#rounds").replaceChildren(...(sections.length ? sections : [el("p", { text: "No people rounds yet." })]));
  $("[data-updated]").textContent = "updated " + new Date().toLocaleTimeString();
}

function start() {
  $("#login").hidden = true;
  refresh();
  setInterval(refresh, 5000);
}

$("#login").addEventListener("submit", (e) => { e.preventDefault(); localStorage.setItem(KEY, $("#key").value.trim()); start(); });
$("#logout").addEventListener("click", () => { localStorage.removeItem(KEY); location.reload(); });
(function init() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) localStorage.setItem(KEY, hash.get("key"));
  if (location.hash) history.replaceState(null, "", location.pathname);
  if (localStorage.getItem(KEY)) start(); else $("#login").hidden = false;
})();
