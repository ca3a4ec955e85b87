// The call page: one player for the recording, findings and utterances that seek it, the
// utterance being played lit, decisions without leaving the page, and the keyboard.
(function () {
  "use strict";
  const audio = document.getElementById("call-audio");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const findings = Array.from(document.querySelectorAll("[data-finding-id]"));
  const utterances = Array.from(document.querySelectorAll(".utterance[data-start]"));
  const words = Array.from(document.querySelectorAll(".utterance .w"));
  let current = -1;

  function seek(seconds, play) {
    if (!audio || Number.isNaN(seconds)) return;
    audio.currentTime = seconds;
    if (play && audio.src) audio.play().catch(function () {});
  }

  function light(start, end) {
    words.forEach(function (w) {
      const s = parseFloat(w.dataset.start), e = parseFloat(w.dataset.end);
      w.classList.toggle("lit", s < end && e > start);
    });
    utterances.forEach(function (u) {
      const s = parseFloat(u.dataset.start), e = parseFloat(u.dataset.end);
      u.classList.toggle("lit", s < end && e > start);
    });
  }

  function select(index, play) {
    if (!findings.length) return;
    current = (index + findings.length) % findings.length;
    findings.forEach(function (f, i) { f.classList.toggle("selected", i === current); });
    const f = findings[current];
    f.focus({ preventScroll: true });
    f.scrollIntoView({ block: "nearest" });
    const start = parseFloat(f.dataset.start), end = parseFloat(f.dataset.end);
    light(start, end);
    const lit = document.querySelector(".utterance.lit");
    if (lit) lit.scrollIntoView({ block: "nearest" });
    seek(start, play);
  }

  document.addEventListener("click", function (event) {
    const target = event.target.closest("[data-seek]");
    if (!target) return;
    event.preventDefault();
    const finding = target.closest("[data-finding-id]");
    if (finding) { select(findings.indexOf(finding), true); return; }
    const utterance = target.closest(".utterance");
    if (utterance) light(parseFloat(utterance.dataset.start), parseFloat(utterance.dataset.end));
    else if (target.dataset.end) light(parseFloat(target.dataset.seek), parseFloat(target.dataset.end));  // an unheard span listed
    seek(parseFloat(target.dataset.seek), true);
  });
  utterances.forEach(function (u) {
    u.addEventListener("click", function (event) {
      if (event.target.closest("[data-seek]")) return;
      light(parseFloat(u.dataset.start), parseFloat(u.dataset.end));
      seek(parseFloat(u.dataset.start), true);
    });
  });

  if (audio) {
    audio.addEventListener("timeupdate", function () {
      const t = audio.currentTime;
      utterances.forEach(function (u) {
        u.classList.toggle("playing", parseFloat(u.dataset.start) <= t && t < parseFloat(u.dataset.end));
      });
    });
    const speed = document.getElementById("speed");
    speed.addEventListener("change", function () { audio.playbackRate = parseFloat(speed.value); });
  }

  // Hear one party: the recording's two channels through Web Audio, the chosen one to both ears.
  let graph = null;
  const channel = document.getElementById("channel");
  if (channel && audio) channel.addEventListener("change", function () {
    if (!graph) {
      const context = new AudioContext();
      const source = context.createMediaElementSource(audio);
      graph = { context: context, source: source, split: context.createChannelSplitter(2), merge: context.createChannelMerger(2) };
      source.connect(graph.split);
      graph.merge.connect(context.destination);
    }
    graph.split.disconnect();
    const agent = parseInt(audio.dataset.agentChannel || "0", 10), customer = 1 - agent;
    if (channel.value === "both") { graph.split.connect(graph.merge, 0, 0); graph.split.connect(graph.merge, 1, 1); }
    else {
      const only = channel.value === "agent" ? agent : customer;
      graph.split.connect(graph.merge, only, 0); graph.split.connect(graph.merge, only, 1);
    }
    graph.context.resume();
  });

  const labels = { open: "待复核 open", uncertain: "待确认 uncertain", confirmed: "已确认 confirmed", overturned: "已推翻 overturned" };

  async function decide(finding, decision) {
    const comment = finding.querySelector('input[name="comment"]');
    const response = await fetch("/api/findings/" + finding.dataset.findingId + "/review", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ decision: decision, comment: comment ? comment.value : "", version: parseInt(finding.dataset.version, 10) }),
      credentials: "same-origin",
    });
    const body = await response.json().catch(function () { return {}; });
    let note = finding.querySelector(".outcome");
    if (!note) { note = document.createElement("p"); note.className = "outcome"; finding.appendChild(note); }
    if (!response.ok) { note.textContent = body.detail || ("error " + response.status); note.classList.add("refused"); return false; }
    finding.dataset.version = body.version;
    finding.querySelector('input[name="version"]').value = body.version;
    finding.className = finding.className.replace(/status-\w+/, "status-" + body.status);
    finding.querySelector("[data-status]").textContent = labels[body.status] || body.status;
    if (body.status !== "uncertain") {
      // Ruled on: a confirmed uncertain finding now deducts; an overturned one never will.
      const pending = finding.querySelector("[data-uncertain-note]");
      if (pending) pending.remove();
      const deduction = finding.querySelector("[data-deduction]");
      if (deduction) deduction.classList.remove("pending");
      const summary = document.getElementById("uncertain-summary");
      if (summary && !document.querySelector(".finding.status-uncertain")) summary.remove();
    }
    note.classList.remove("refused");
    note.textContent = "已" + (decision === "confirm" ? "确认" : "推翻") + " · saved";
    const score = document.getElementById("call-score");
    score.textContent = body.score === null ? "—" : String(body.score);
    score.dataset.score = body.score === null ? "" : body.score;
    return true;
  }

  document.querySelectorAll("form.decide").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const button = event.submitter || form.querySelector("[data-decision]");
      const finding = form.closest("[data-finding-id]");
      // Focus back on the finding, selected, so that the keys go on working after a click (a
      // focused button took the next space, the play key, as a second click: the decision again).
      current = findings.indexOf(finding);
      findings.forEach(function (f, i) { f.classList.toggle("selected", i === current); });
      finding.focus({ preventScroll: true });
      decide(finding, button.dataset.decision);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, textarea, select, button")) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const key = event.key;
    if (key === "j") { select(current + 1, true); }
    else if (key === "k") { select(current - 1, true); }
    else if (key === " ") { if (audio && audio.src) { audio.paused ? audio.play().catch(function () {}) : audio.pause(); } }
    else if ((key === "c" || key === "o") && current >= 0 && findings[current].querySelector("form.decide")) {
      // The selection stays on the finding decided: `j` moves on. (Moving on by itself made the
      // `j` pressed next skip a finding, and with two findings `j c j o` overturned the first.)
      decide(findings[current], key === "c" ? "confirm" : "overturn");
    }
    else if (key === "n") { window.location.href = document.getElementById("next-call").href; }
    else return;
    event.preventDefault();
  });

  if (location.hash.startsWith("#finding-")) {
    const target = document.getElementById(location.hash.slice(1));
    if (target) select(findings.indexOf(target), false);
  }
})();
