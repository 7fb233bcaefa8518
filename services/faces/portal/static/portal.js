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

// A refresh that arrives while the previous one is in flight must not be lost: htmx drops a
// request on an element that already has one running, so a quick "stop requested" then
// "stopped" would leave the page showing the first. One more fetch follows the running one.
function refresher(el) {
  let busy = false;
  let again = false;
  const run = () => {
    const target = document.querySelector(el.dataset.target || "#" + el.id);
    if (!window.htmx || !el.dataset.refresh || !target) return;
    // A form the person is filling in is not swapped away under them: say the process changed.
    if (target.querySelector("form[data-edited]")) {
      const note = target.querySelector("[data-changed-note]");
      if (note) note.hidden = false;
      return;
    }
    busy = true;
    again = false;
    Promise.resolve(window.htmx.ajax("GET", el.dataset.refresh, { target: target, swap: "outerHTML" }))
      .catch(() => {})
      .finally(() => {
        busy = false;
        if (again) run();
      });
  };
  return () => {
    if (busy) again = true;
    else run();
  };
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
  source.addEventListener("refresh", refresher(el));
  // event "audit": JSON {position, type, originator_id, originator_version, recorded_at}, a new table row
  source.addEventListener("audit", (e) => {
    const item = JSON.parse(e.data);
    const row = document.createElement("tr");
    for (const value of [item.position, item.type, item.originator_id, item.originator_version, item.recorded_at]) {
      const cell = document.createElement("td");
      cell.textContent = String(value);
      row.append(cell);
    }
    el.append(row);
    el.dispatchEvent(new CustomEvent("portal:line"));
  });
  source.addEventListener("end", () => source.close());
  // The session ended (signed out elsewhere, token revoked): stop following rather than retry.
  source.addEventListener("revoked", () => {
    source.close();
    el.dataset.live = "off";
  });
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

// Verify with a progress bar: the form's data-progress stream reports {checked, total}, then the verdict.
// Without script the form posts and the page shows the verdict.
function verifyForms(root) {
  for (const form of root.querySelectorAll("form[data-progress]")) {
    if (form.dataset.progressBound) continue;
    form.dataset.progressBound = "1";
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const bar = form.querySelector("progress");
      const verdict = document.getElementById("verify-verdict");
      const button = form.querySelector("button");
      button.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      verdict.textContent = "Checking…";
      const source = new EventSource(form.dataset.progress);
      source.addEventListener("progress", (m) => {
        const p = JSON.parse(m.data);
        bar.max = Math.max(p.total, 1);
        bar.value = p.checked;
        verdict.textContent = "Checked " + p.checked + " of " + p.total + " events…";
      });
      source.addEventListener("verdict", (m) => {
        const v = JSON.parse(m.data);
        source.close();
        button.disabled = false;
        bar.value = bar.max;
        const text = document.createElement("p");
        if (v.intact) {
          text.className = "ok";
          text.textContent = "Intact: " + v.checked + " events checked, every hash matches.";
        } else {
          text.className = "error";
          text.textContent = "Broken at position " + v.broken.position + " (aggregate " + v.broken.aggregate +
            ", version " + v.broken.version + ", " + v.broken.topic + "); the " + v.checked + " events before it are intact.";
        }
        verdict.replaceChildren(text);
      });
      source.onerror = () => { source.close(); button.disabled = false; };
    });
  }
}

// Task forms remember that something was typed into them (see refresher).
function editedForms(root) {
  for (const form of root.querySelectorAll(".task form")) {
    if (form.dataset.editBound) continue;
    form.dataset.editBound = "1";
    form.addEventListener("input", () => { form.dataset.edited = "1"; });
  }
}

function wire(root) {
  editedForms(root);
  verifyForms(root);
  localTimes(root);
  confirmations(root);
  for (const el of root.querySelectorAll("[data-stream]")) follow(el);
}

document.addEventListener("DOMContentLoaded", () => wire(document));
document.addEventListener("htmx:afterSettle", (e) => wire(e.target));
