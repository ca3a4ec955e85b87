// What-if on the rulebook editor: the draft in #rulebook-yaml run over the period of
// #whatif-from / #whatif-to without saving anything; a progress bar while it runs, then what would
// change (findings per check with quotes, calls, agents) as tables in <section id="whatif">.
// Everything shown is built with textContent: quotes are what callers and agents said.
(function () {
  "use strict";
  const button = document.getElementById("preview-button");
  const section = document.getElementById("whatif");
  if (!button || !section) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const POLL_MS = 700;
  // The monthly report's names of the flags, as the server gives them (one wording everywhere).
  const FLAG_LABELS = JSON.parse(section.dataset.flagTitles || "{}");

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function score(value) {
    return value === null || value === undefined ? "—" : Number(value).toFixed(1);
  }

  function table(headers, rows, className) {
    const t = el("table", null, "whatif-table " + (className || ""));
    const head = t.createTHead().insertRow();
    headers.forEach(function (h) { head.appendChild(el("th", h)); });
    const body = t.createTBody();
    rows.forEach(function (cells) {
      const tr = body.insertRow();
      cells.forEach(function (cell) {
        const td = tr.insertCell();
        if (cell instanceof Node) td.appendChild(cell); else td.textContent = cell === undefined ? "" : String(cell);
      });
    });
    return t;
  }

  function quotes(examples) {
    const list = el("ul", null, "whatif-quotes");
    examples.forEach(function (e) {
      const item = el("li");
      const link = el("a", e.call_id);
      link.href = "/calls/" + encodeURIComponent(e.call_id);
      item.appendChild(link);
      item.appendChild(el("span", " " + Number(e.start).toFixed(1) + " s ", "t"));
      item.appendChild(el("q", e.quote));
      list.appendChild(item);
    });
    return list;
  }

  function callLink(callId) {
    const link = el("a", callId);
    link.href = "/calls/" + encodeURIComponent(callId);
    return link;
  }

  function change(before, after) {
    const span = el("span", score(before) + " → " + score(after), "whatif-change");
    if (before !== null && after < before) span.classList.add("down");
    if (before !== null && after > before) span.classList.add("up");
    return span;
  }

  function flags(list) {
    return (list || []).map(function (f) { return FLAG_LABELS[f] || f; }).join("，") || "—";
  }

  function clear() {
    while (section.firstChild) section.removeChild(section.firstChild);
  }

  function showError(message) {
    clear();
    section.appendChild(el("h2", "试算 What-if"));
    section.appendChild(el("p", message, "whatif-error"));
  }

  function showProgress(done, total, elapsed) {
    clear();
    section.appendChild(el("h2", "试算中 Running the draft…"));
    const bar = el("progress");
    bar.max = Math.max(total, 1);
    bar.value = done;
    section.appendChild(bar);
    section.appendChild(el("span", done + " / " + total + " 通话 calls · " + elapsed + " s", "whatif-progress-text"));
  }

  function showResult(r) {
    clear();
    section.appendChild(el("h2", "试算结果 What-if (未保存 nothing saved)"));
    section.appendChild(el("p",
      "重新评分 " + r.calls_scored + " 通通话 calls re-scored · 分数变化 " + r.calls_changed + " calls changed · 新增 +" +
      r.findings_added + " / 消失 −" + r.findings_removed + " findings", "whatif-summary"));

    section.appendChild(el("h3", "按检查项 Per check"));
    const checks = Object.keys(r.per_check);
    if (!checks.length) {
      section.appendChild(el("p", "没有检查项的发现变化 No check finds anything different.", "muted"));
    } else {
      section.appendChild(table(["检查项 Check", "新增 Added", "例 Examples", "消失 Removed", "例 Examples"],
        checks.map(function (id) {
          const c = r.per_check[id];
          const name = c.title && c.title !== id ? id + " " + c.title : id;
          return [name, "+" + c.added, quotes(c.added_examples || []), "−" + c.removed,
                  quotes(c.removed_examples || [])];
        }), "whatif-checks"));
    }

    section.appendChild(el("h3", "分数变化的通话 Calls whose score changes (" + r.calls_changed + ")"));
    if (!r.calls.length) {
      section.appendChild(el("p", "无 None.", "muted"));
    } else {
      section.appendChild(table(["通话 Call", "分数 Score"],
        r.calls.map(function (c) { return [callLink(c.call_id), change(c.score_before, c.score_after)]; }),
        "whatif-calls"));
      if (r.calls.length < r.calls_changed) {
        section.appendChild(el("p", "列出变化最大的 " + r.calls.length + " 通 The largest changes listed.", "muted"));
      }
    }

    section.appendChild(el("h3", "得分或标记变化的坐席 Agents whose score or flags change (" + r.agents_changed.length + ")"));
    if (!r.agents_changed.length) {
      section.appendChild(el("p", "无 None.", "muted"));
    } else {
      section.appendChild(table(["坐席 Agent", "班组 Team", "通话 Calls", "期间得分 Period score", "标记 Flags"],
        r.agents_changed.map(function (a) {
          return [a.agent_name ? a.agent_id + " " + a.agent_name : a.agent_id, a.team || "—", a.calls,
                  change(a.score_before, a.score_after), flags(a.flags_before) + " → " + flags(a.flags_after)];
        }), "whatif-agents"));
    }
  }

  function poll(jobId) {
    fetch("/rulebook/preview/" + encodeURIComponent(jobId), { headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.json().then(function (body) { return { ok: response.ok, body: body }; });
      })
      .then(function (answer) {
        const job = answer.body;
        if (!answer.ok) throw new Error(job.detail || "试算失败 preview failed");
        if (job.state === "running") {
          showProgress(job.done, job.total, job.elapsed_s);
          window.setTimeout(function () { poll(jobId); }, POLL_MS);
          return;
        }
        button.disabled = false;
        if (job.state === "failed") showError(job.error || "试算失败 preview failed");
        else showResult(job.result);
      })
      .catch(function (error) {
        button.disabled = false;
        showError(error.message);
      });
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    const yaml = document.getElementById("rulebook-yaml");
    const from = document.getElementById("whatif-from");
    const to = document.getElementById("whatif-to");
    const body = { yaml: yaml ? yaml.value : "" };
    if (from && from.value) body.date_from = from.value;
    if (to && to.value) body.date_to = to.value;
    button.disabled = true;
    showProgress(0, 0, 0);
    fetch("/rulebook/preview", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    })
      .then(function (response) {
        return response.json().then(function (answer) { return { ok: response.ok, body: answer }; });
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.body.detail || "试算失败 preview failed");
        poll(answer.body.job);
      })
      .catch(function (error) {
        button.disabled = false;
        showError(error.message);
      });
  });
})();
