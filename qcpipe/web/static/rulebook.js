// The rulebook editor: validate the draft (errors on their lines), try a sentence against it,
// and follow the re-scoring a publish started. Everything shown is set as text, never as HTML.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const yaml = document.getElementById("rulebook-yaml");

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.json();
    });
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (className) { node.className = className; }
    return node;
  }

  // Select a line of the textarea and scroll it into view.
  function showLine(line) {
    if (!yaml || !line) { return; }
    const lines = yaml.value.split("\n");
    let start = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) { start += lines[i].length + 1; }
    const end = start + (lines[line - 1] || "").length;
    yaml.focus();
    yaml.setSelectionRange(start, end);
    const lineHeight = parseFloat(getComputedStyle(yaml).lineHeight) || 18;
    yaml.scrollTop = Math.max(0, (line - 5) * lineHeight);
  }

  function lineError(list, error) {
    const item = el("li", null, "check-error");
    if (error.line) {
      const link = el("button", "第 " + error.line + " 行 · line " + error.line, "link line-link");
      link.type = "button";
      link.dataset.line = error.line;
      link.addEventListener("click", function () { showLine(error.line); });
      item.appendChild(link);
      const text = (yaml.value.split("\n")[error.line - 1] || "").trim();
      if (text) { item.appendChild(el("code", text, "error-source")); }
    }
    item.appendChild(el("span", error.cause || error.message, "error-cause"));
    list.appendChild(item);
  }

  const status = document.getElementById("check-result");
  const errors = document.getElementById("check-errors");
  const validate = document.getElementById("validate-button");
  if (validate) {
    validate.addEventListener("click", function () {
      status.textContent = "校验中 · checking …";
      status.className = "";
      errors.replaceChildren();
      post("/rulebook/check", { yaml: yaml.value }).then(function (result) {
        if (result.ok) {
          status.textContent = "✓ 有效 · valid: " + result.checks.length + " 项检查 checks · " + result.content_hash.slice(0, 12);
          status.className = "ok";
        } else {
          status.textContent = "✗ 无效 · invalid";
          status.className = "refused";
          lineError(errors, result.error);
          showLine(result.error.line);
        }
      }).catch(function (error) { status.textContent = "出错 · " + error.message; status.className = "refused"; });
    });
  }

  // A refused publish names the line of the error: select it.
  const publishError = document.getElementById("publish-error");
  if (publishError && publishError.dataset.line) { showLine(parseInt(publishError.dataset.line, 10)); }

  const tryButton = document.getElementById("try-button");
  const tryText = document.getElementById("try-text");
  const tryResult = document.getElementById("try-result");
  function trySentence() {
    if (!tryText.value.trim()) { return; }
    tryResult.replaceChildren(el("span", "…", "note"));
    const role = document.getElementById("try-role").value;
    post("/rulebook/try", { yaml: yaml.value, text: tryText.value, role: role }).then(function (result) {
      tryResult.replaceChildren();
      if (!result.ok) {
        const list = el("ol", null, "check-errors");
        lineError(list, result.error);
        tryResult.appendChild(list);
        return;
      }
      if (!result.matches.length) {
        tryResult.appendChild(el("p", "没有匹配的话术 · no rule phrase matches", "note"));
      } else {
        const table = el("table", null, "list try-matches");
        const head = el("tr");
        ["规则 rule", "话术 phrase", "听到 heard", "方式 how", "相似度 score", "计分 counts"].forEach(function (h) {
          head.appendChild(el("th", h));
        });
        table.appendChild(el("thead")).appendChild(head);
        const body = el("tbody");
        result.matches.forEach(function (m) {
          const row = el("tr");
          row.dataset.rule = m.rule_id;
          row.appendChild(el("td", m.rule_id + " / " + m.phrase_list));
          row.appendChild(el("td", m.wording));
          row.appendChild(el("td", m.quote));
          row.appendChild(el("td", m.match_kind, "how"));
          row.appendChild(el("td", m.score.toFixed(2)));
          row.appendChild(el("td", m.counts ? "是 yes" : "否 no（只听 " + m.listens_to + "）"));
          body.appendChild(row);
        });
        table.appendChild(body);
        tryResult.appendChild(table);
      }
      result.near_misses.forEach(function (n) {
        tryResult.appendChild(el("p", "接近 near miss: " + n.rule_id + "/" + n.phrase_list + " " + n.phrase + " (" +
          n.score.toFixed(2) + " < " + result.threshold.toFixed(2) + ")", "note near-miss"));
      });
      (result.taken_back || []).forEach(function (t) {
        tryResult.appendChild(el("p", "不计 taken back: " + t.rule_id + "/" + t.phrase_list + " " + t.phrase + "（听到 heard “" +
          t.quote + "”）: " + t.why, "note taken-back"));
      });
      (result.readings || []).forEach(function (r) {
        const verdict = r.raised ? (r.counts ? "待确认 raised for a monitor (uncertain)" : "不计分 not this speaker's rule")
          : (r.probability >= r.threshold ? "已有列表话术 a listed phrase is in it" : "不提出 not raised");
        tryResult.appendChild(el("p", "释义 meaning: " + r.rule_id + " · " + r.model + " “" + r.sentence + "” " +
          r.probability.toFixed(2) + (r.probability >= r.threshold ? " ≥ " : " < ") + r.threshold.toFixed(2) +
          " · " + verdict, "note reading" + (r.raised && r.counts ? " raised" : "")));
      });
    }).catch(function (error) { tryResult.replaceChildren(el("p", "出错 · " + error.message, "refused")); });
  }
  if (tryButton) {
    tryButton.addEventListener("click", trySentence);
    tryText.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); trySentence(); }  // not a publish
    });
  }

  // The re-scoring a publish started: poll until it ends.
  const rescore = document.getElementById("rescore");
  if (rescore) {
    const bar = document.getElementById("rescore-bar");
    const label = document.getElementById("rescore-status");
    const poll = function () {
      fetch("/rulebook/jobs/" + encodeURIComponent(rescore.dataset.jobId), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : Promise.reject(new Error(response.status)); })
        .then(function (job) {
          rescore.dataset.state = job.state;
          bar.max = job.total || 1;
          bar.value = job.done;
          if (job.state === "running") {
            label.textContent = "评分中 · scoring " + job.done + " / " + job.total + " 通 calls";
            setTimeout(poll, 500);
          } else if (job.state === "done") {
            bar.value = bar.max;
            const r = job.result || {};
            label.textContent = "✓ 完成 · done: " + r.calls + " 通通话已按第 " + r.version + " 版重新评分 · calls re-scored with version " +
              r.version + " (" + r.findings + " findings, " + job.elapsed_s + " s)";
          } else {
            label.textContent = "✗ 失败 · failed: " + job.error;
            label.className = "refused";
          }
        })
        .catch(function () { label.textContent = "进度不可用 · progress unavailable (the server may have restarted)"; });
    };
    poll();
  }
})();
