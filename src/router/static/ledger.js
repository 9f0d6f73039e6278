// The ledger view (台账一览): server-side paging, search, sorting, the filters, each
// proposal's history, undoing a decision, export of the filtered ledger, bulk confirmation.
// Uses app.js's helpers ($, el, api, say, pct, openProposal); every text set as text.
"use strict";

const ledger = { offset: 0, size: 50, total: 0, open: new Set(), bulkFor: null, bulkStale: false };

const ACTIONS = { registered: "登记", decided: "分办", redecided: "重新分办", status: "办理进度", evaluated: "评价", undone: "撤销分办" };

function ledgerParams() {
  const params = new URLSearchParams();
  const session = $("l-session").value;
  if (session) params.set("session", session);
  if ($("l-status").value) params.set("status", $("l-status").value);
  if ($("l-unit").value) params.set("unit", $("l-unit").value);
  if ($("l-overdue").checked) params.set("overdue", "true");
  const q = $("l-q").value.trim();
  if (q) params.set("q", q);
  if ($("l-sort").value) params.set("sort", $("l-sort").value);
  return params;
}

$("ledger-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  say("l-msg", "");
  ledger.offset = 0;
  loadLedger();
});

for (const id of ["l-session", "l-status", "l-unit", "l-overdue", "l-sort"]) {
  $(id).addEventListener("change", () => { ledger.offset = 0; loadLedger(); });
}

$("l-prev").addEventListener("click", () => {
  ledger.offset = Math.max(0, ledger.offset - ledger.size);
  loadLedger();
});
$("l-next").addEventListener("click", () => {
  if (ledger.offset + ledger.size < ledger.total) ledger.offset += ledger.size;
  loadLedger();
});

async function loadLedger() {
  const params = ledgerParams();
  $("l-export").href = `${API}/ledger/export.xlsx?${params}`;
  const page = new URLSearchParams(params);
  page.set("limit", String(ledger.size));
  page.set("offset", String(ledger.offset));
  const session = $("l-session").value;
  try {
    const [list, stats] = await Promise.all([
      api("GET", `/proposals?${page}`),
      api("GET", `/stats${session ? `?session=${encodeURIComponent(session)}` : ""}`),
    ]);
    if (list.items.length === 0 && list.total > 0 && ledger.offset > 0) {
      ledger.offset = Math.max(0, Math.floor((list.total - 1) / ledger.size) * ledger.size);
      return loadLedger();
    }
    ledger.total = list.total;
    renderRows(list);
    renderStats(stats);
    if (session !== ledger.bulkFor || ledger.bulkStale) {
      // the preview reads the whole 届次: only when the 届次 changes or a decision changed it
      ledger.bulkFor = session;
      ledger.bulkStale = false;
      await renderBulk(session);
    }
  } catch (error) {
    say("l-msg", error.message, "error");
  }
}

function renderRows(list) {
  const body = $("l-table").querySelector("tbody");
  body.replaceChildren();
  for (const p of list.items) {
    const dec = p.decision;
    const handler = dec ? (dec.lead_unit || `转出：${dec.referral_departments.join("、")}`) : "";
    const due = el("td", {}, p.due_on || "");
    if (p.overdue) due.append(" ", el("span", { class: "badge late", text: `超期 ${p.days_overdue} 天` }));
    const row = el(
      "tr",
      { class: p.overdue ? "overdue" : "", "data-id": String(p.id) },
      el("td", { text: p.number }),
      el("td", { text: p.session }),
      el("td", { text: p.title }),
      el("td", { text: p.deputy_name }),
      el("td", { text: `${p.suggested_unit || "转出"} ${pct(p.suggested_confidence)}` }),
      el("td", { text: handler }),
      el("td", {}, el("span", { class: "badge", text: p.status })),
      due,
      el("td", { text: p.evaluation || "" }),
      el("td", {}, rowActions(p)),
    );
    body.append(row);
    if (ledger.open.has(p.id)) showHistory(p, row);
  }
  const from = list.total ? list.offset + 1 : 0;
  const to = list.offset + list.items.length;
  const pages = Math.max(1, Math.ceil(list.total / ledger.size));
  const at = Math.floor(list.offset / ledger.size) + 1;
  $("l-summary").textContent = `共 ${list.total} 件，显示第 ${from}–${to} 件`;
  $("l-page").textContent = `第 ${at} / ${pages} 页`;
  $("l-prev").disabled = list.offset === 0;
  $("l-next").disabled = to >= list.total;
}

function rowActions(p) {
  const box = el("div", { class: "rowacts" });
  const button = (text, action, title) => el("button", { type: "button", text, onclick: action, ...(title ? { title } : {}) });
  box.append(button(p.status === "待分办" ? "分办" : "查看", () => openProposal(p.id)));
  if (p.status === "已分办") box.append(button("办理中", () => setStatus(p, "办理中")));
  if (p.status === "已分办" || p.status === "办理中") box.append(button("已答复", () => setStatus(p, "已答复")));
  if (p.status === "已答复") {
    const pick = el("select", { "aria-label": "评价" }, el("option", { value: "", text: "评价…" }));
    for (const e of ["满意", "基本满意", "不满意"]) pick.append(el("option", { value: e, text: e }));
    pick.value = p.evaluation || "";
    pick.addEventListener("change", () => pick.value && setEvaluation(p, pick.value));
    box.append(pick);
  }
  if (p.status === "已分办" || p.status === "已退办") {
    box.append(button("撤销分办", () => undo(p), "退回待分办；原决定保留在修改记录中"));
  }
  box.append(button("记录", (event) => toggleHistory(p, event.target.closest("tr")), "修改记录"));
  return box;
}

async function toggleHistory(p, row) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("history")) {
    next.remove();
    ledger.open.delete(p.id);
    return;
  }
  ledger.open.add(p.id);
  await showHistory(p, row);
}

function describe(e) {
  const d = e.data || {};
  if (e.action === "registered") return `模型建议 ${d.suggested_unit || "转出"}（置信度 ${pct(d.confidence || 0)}，模型 ${d.model_version}）`;
  if (e.action === "decided" || e.action === "redecided") {
    const dec = d.decision || {};
    const what = dec.lead_unit ? `主办 ${dec.lead_unit}${dec.co_units && dec.co_units.length ? `，会办 ${dec.co_units.join("、")}` : ""}` : `转出 ${(dec.referral_departments || []).join("、")}`;
    const why = dec.reason_code ? `；原因：${dec.reason_code}` : "";
    return `${d.bulk ? "批量确认：" : ""}${what}${why}${dec.due_on ? `；期限 ${dec.due_on}` : ""}`;
  }
  if (e.action === "undone") {
    const u = d.undone || {};
    return `撤销分办（原为 ${u.lead_unit || `转出 ${(u.referral_departments || []).join("、")}`}）${d.note ? `：${d.note}` : ""}`;
  }
  if (e.action === "status") return `${(d.status || []).join(" → ")}${d.replied_on ? `（答复 ${d.replied_on}）` : ""}`;
  if (e.action === "evaluated") return `代表评价：${(d.evaluation || [])[1] || ""}`;
  return "";
}

async function showHistory(p, row) {
  try {
    const full = await api("GET", `/proposals/${p.id}`);
    const list = el("ol");
    for (const e of full.events) {
      list.append(el("li", { text: `${shownTime(e.at)} ${e.actor} ${ACTIONS[e.action] || e.action}：${describe(e)}` }));
    }
    const old = row.nextElementSibling;
    if (old && old.classList.contains("history")) old.remove();
    row.after(el("tr", { class: "history", "data-for": String(p.id) }, el("td", { colspan: "10" }, el("strong", { text: "修改记录" }), list)));
  } catch (error) {
    say("l-msg", error.message, "error");
  }
}

async function undo(p) {
  ledger.bulkStale = true;
  try {
    await api("POST", `/proposals/${p.id}/undo`, { expected_version: p.version, note: "在台账中撤销" }, true);
    say("l-msg", `${p.number} 已撤销分办，回到待分办。`, "ok");
  } catch (error) {
    say("l-msg", error.message, "error");
  }
  await loadLedger();
}

async function setStatus(p, status) {
  ledger.bulkStale = true;
  try {
    await api("POST", `/proposals/${p.id}/status`, { status, expected_version: p.version }, true);
    say("l-msg", `${p.number} 已改为“${status}”。`, "ok");
  } catch (error) {
    say("l-msg", error.message, "error");
  }
  await loadLedger();
}

async function setEvaluation(p, evaluation) {
  try {
    await api("POST", `/proposals/${p.id}/evaluation`, { evaluation, expected_version: p.version }, true);
    say("l-msg", `${p.number} 评价已登记：${evaluation}。`, "ok");
  } catch (error) {
    say("l-msg", error.message, "error");
  }
  await loadLedger();
}

function renderStats(s) {
  const select = $("l-session");
  const keep = select.value;
  select.replaceChildren(el("option", { value: "", text: "全部" }), ...s.sessions.map((x) => el("option", { value: x, text: x })));
  select.value = keep;
  const body = $("s-table").querySelector("tbody");
  body.replaceChildren(
    ...s.by_unit.map((u) =>
      el(
        "tr",
        {},
        el("td", { text: u.unit, title: u.unit_name }),
        el("td", { class: "num", text: String(u.lead) }),
        el("td", { class: "num", text: String(u.co) }),
        el("td", { class: "num", text: String(u.replied) }),
        el("td", { class: "num", text: String(u.overdue) }),
        el("td", { class: "num", text: u.satisfaction_rate === null ? "—" : pct(u.satisfaction_rate) }),
      ),
    ),
  );
  const rate = s.satisfaction_rate === null ? "—" : pct(s.satisfaction_rate);
  const statuses = Object.entries(s.by_status).map(([k, v]) => `${k} ${v}`).join("，");
  $("s-summary").textContent = `共 ${s.total} 件（${statuses}）；整件转出 ${s.referrals} 件，部分转出 ${s.partial_referrals} 件；满意率 ${rate}；超期 ${s.overdue} 件。`;
}

async function renderBulk(session) {
  const box = $("ledger-bulk");
  if (!session) {
    box.replaceChildren();
    return;
  }
  await bulkBox(box, session, (text) => {
    say("l-msg", text, "ok");
    ledger.bulkStale = true;
    loadLedger();
  });
}

// Column headers sort too: a click sorts by that column, a second click reverses it.
(() => {
  const keys = ["number", "session", "title", "deputy", "suggested", "unit", "status", "due_on"];
  const heads = $("l-table").querySelectorAll("thead th");
  keys.forEach((key, i) => {
    const th = heads[i];
    if (!th) return;
    th.dataset.sort = key;
    th.title = "点击排序，再点倒序";
    th.addEventListener("click", () => {
      const select = $("l-sort");
      const next = select.value === key ? `-${key}` : key;
      if (![...select.options].some((o) => o.value === next)) {
        select.append(el("option", { value: next, text: `${th.textContent}${next.startsWith("-") ? "（倒序）" : ""}` }));
      }
      select.value = next;
      ledger.offset = 0;
      loadLedger();
    });
  });
  const mark = () => {
    const value = $("l-sort").value;
    for (const th of heads) {
      const on = th.dataset.sort && value.replace(/^-/, "") === th.dataset.sort;
      th.classList.toggle("sorted", Boolean(on));
      th.classList.toggle("desc", Boolean(on) && value.startsWith("-"));
    }
  };
  $("l-sort").addEventListener("change", mark);
  document.addEventListener("click", (event) => { if (event.target.closest && event.target.closest("th[data-sort]")) mark(); });
})();
