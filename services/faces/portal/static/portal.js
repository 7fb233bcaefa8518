// procession portal: the few things plain HTML cannot do. Every page works without this file.
"use strict";

// Times are rendered in UTC by the server; show the browser's local time beside them.
function localTimes(root) {
  for (const el of root.querySelectorAll("time[data-local]")) {
    if (el.dataset.done) continue;
    const when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) continue;
    const local = document.createElement("span");
    local.className = "local-time";
    local.textContent = " (" + when.toLocaleString() + " your time)";
    el.after(local);
    el.dataset.done = "1";
  }
}

// Live parts: an element with data-stream listens to server-sent events.
//   event "line":    JSON {time, stream, line} appended to the element as a log line
//   event "refresh": the element's data-refresh URL is fetched and swapped in (htmx)
//   event "end":     the stream is over
function follow(el) {
  if (el.dataset.following) return;
  el.dataset.following = "1";
  const source = new EventSource(el.dataset.stream);
  source.addEventListener("line", (e) => {
    const item = JSON.parse(e.data);
    const row = document.createElement("span");
    row.className = "line " + item.stream;
    row.textContent = item.time + " " + item.line + "\n";
    el.append(row);
    el.dispatchEvent(new CustomEvent("portal:line"));
    if (el.dataset.autoscroll !== undefined) el.scrollTop = el.scrollHeight;
  });
  source.addEventListener("refresh", () => {
    const target = document.querySelector(el.dataset.target || "#" + el.id);
    if (window.htmx && el.dataset.refresh) {
      window.htmx.ajax("GET", el.dataset.refresh, { target: target, swap: "outerHTML" });
    }
  });
  source.addEventListener("end", () => source.close());
  el.dataset.live = "on";
}

function confirmations(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    if (form.dataset.confirmBound) continue;
    form.dataset.confirmBound = "1";
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }
}

function wire(root) {
  localTimes(root);
  confirmations(root);
  for (const el of root.querySelectorAll("[data-stream]")) follow(el);
}

document.addEventListener("DOMContentLoaded", () => wire(document));
document.addEventListener("htmx:afterSettle", (e) => wire(e.target));
