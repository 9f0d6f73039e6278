// The administrator's view of the model registry: versions, pending and held candidates with
// their reports, and the promotion chain. Read-only; kept apart from app.js. It reads the same
// saved token and name as the other views (the registry names dispatchers, so it needs them).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const tab = $("tab-models");
  const view = $("view-models");
  if (!tab || !view) return;
  const STATES = { serving: "服务中", pending: "待审批", held: "暂扣", served: "曾服务", registered: "已登记" };

  function headers() {
    const h = {};
    const token = sessionStorage.getItem("router.token");
    const who = ($("dispatcher") && $("dispatcher").value.trim()) || "";
    if (token) h.Authorization = `Bearer ${token}`;
    if (who) h["X-Dispatcher"] = encodeURIComponent(who);
    return h;
  }

  function say(text, kind = "") {
    $("m-msg").textContent = text;
    $("m-msg").className = `msg ${kind}`;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  async function get(url) {
    const res = await fetch(url, { headers: headers() });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(typeof body.detail === "string" ? body.detail : `请求失败（${res.status}）`);
    return body;
  }

  async function showReport(version) {
    $("m-report-title").textContent = `重训练报告 ${version}`;
    $("m-report").textContent = "正在读取……";
    try {
      const body = await get(`/api/v1/admin/models/${encodeURIComponent(version)}/report`);
      $("m-report").textContent = body.markdown;
    } catch (err) {
      $("m-report").textContent = err.message;
    }
  }

  async function load() {
    say("正在读取……");
    let data;
    try {
      data = await get("/api/v1/admin/models");
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

  for (const t of document.querySelectorAll(".tab")) {
    t.addEventListener("click", () => {
      const mine = t === tab;
      view.hidden = !mine;
      if (mine) {
        for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
        for (const id of ["view-route", "view-ledger"]) if ($(id)) $(id).hidden = true;
        load();
      }
    });
  }
})();
