// The administrator's view of the model registry: versions, pending and held candidates with
// their reports, and the promotion chain. Read-only; kept apart from app.js. It reads the same
// saved token and name as the other views (the registry names dispatchers, so it needs them).
"use strict";

(() => {
  const { $, cell } = routerPage;
  const tab = $("tab-models");
  const view = $("view-models");
  if (!tab || !view) return;
  const STATES = { serving: "服务中", pending: "待审批", held: "暂扣", served: "曾服务", registered: "已登记" };

  const say = (text, kind) => routerPage.say("m-msg", text, kind);
  const get = (path) => routerPage.call("GET", path, undefined, { who: routerPage.typedName() });

  async function showReport(version) {
    $("m-report-title").textContent = `重训练报告 ${version}`;
    $("m-report").textContent = "正在读取……";
    try {
      const body = await get(`/admin/models/${encodeURIComponent(version)}/report`);
      $("m-report").textContent = body.markdown;
    } catch (err) {
      $("m-report").textContent = err.message;
    }
  }

  async function load() {
    say("正在读取……");
    let data;
    try {
      data = await get("/admin/models");
    } catch (err) {
      say(err.message, "error");
      return;
    }
    const body = $("m-table").querySelector("tbody");
    body.replaceChildren();
    for (const v of data.versions) {
      const row = document.createElement("tr");
      cell(row, v.version);
      cell(row, STATES[v.state] || v.state).className = `state-${v.state}`;
      cell(row, v.created_at);
      cell(row, v.macro_f1 == null ? "" : v.macro_f1.toFixed(3));
      const note = v.state === "held" ? v.held_reasons.join("；")
        : v.promoted_by ? `${v.promoted_by} 于 ${v.promoted_at} 启用：${v.promoted_reason || ""}` : "";
      cell(row, note);
      const td = cell(row, "");
      if (v.has_report) {
        const btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = "查看";
        btn.addEventListener("click", () => showReport(v.version));
        td.appendChild(btn);
      }
      body.appendChild(row);
    }
    const chain = $("m-chain").querySelector("tbody");
    chain.replaceChildren();
    for (const e of [...data.chain].reverse()) {
      const row = document.createElement("tr");
      cell(row, e.version);
      cell(row, e.at);
      cell(row, e.by);
      cell(row, (e.forced ? "【强制】" : "") + (e.reason || ""));
      chain.appendChild(row);
    }
    const waiting = data.versions.filter((v) => v.state === "pending" || v.state === "held");
    say(waiting.length ? `${waiting.length} 个候选等待管理员审核。` : "没有等待审核的候选。");
    const first = waiting[0];
    if (first && first.has_report) showReport(first.version);
  }

  // app.js switches the views (data-view); this view reads the registry each time it is shown
  tab.addEventListener("click", load);
})();
