// The 分办人员's desk: the work queue (search, next, Ctrl+Enter), the precedents panel and
// bulk confirmation. Uses app.js's helpers ($, el, api, say, pct, state, openProposal, loadPick);
// app.js tells it what happens through events (router:shown, router:decided, router:queue).
"use strict";

// -- the work queue -------------------------------------------------------------------------
const queue = { advance: true, timer: null, current: null, note: "" };

function queueIds() {
  return [...$("pick").options].map((o) => o.value).filter(Boolean).map(Number);
}

function nextUndecided(afterId) {
  const ids = queueIds();
  if (!ids.length) return null;
  const at = ids.indexOf(afterId);
  if (at >= 0) return ids[at + 1] !== undefined ? ids[at + 1] : null;
  // the one just decided has left the list: take the first after it by list order
  const current = state.proposal;
  if (current) {
    const later = [...$("pick").options].find((o) => o.value && o.textContent > `${current.number} `);
    if (later) return Number(later.value);
  }
  return ids[0];
}

function openNext(afterId) {
  const id = nextUndecided(afterId);
  if (id === null) {
    $("q-info").textContent = "没有更多待分办的建议。";
    return false;
  }
  $("pick").value = String(id);
  openProposal(id);
  return true;
}

$("q-next").addEventListener("click", () => {
  const current = state.proposal && state.proposal.status === "待分办" ? state.proposal.id : -1;
  openNext(current);
});

$("q-search").addEventListener("input", () => {
  queue.note = "";
  clearTimeout(queue.timer);
  queue.timer = setTimeout(() => loadPick(), 250);
});
$("q-search").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.ctrlKey) {
    event.preventDefault();
    loadPick().then(() => openNext(-1));
  }
});

document.addEventListener("router:queue", (event) => {
  const { total, shown } = event.detail;
  const q = $("q-search").value.trim();
  const count = `待分办 ${total} 件${q ? `（含“${q}”）` : ""}${total > shown ? `，列出前 ${shown} 件` : ""}`;
  $("q-info").textContent = queue.note ? `${count}。${queue.note}` : count;
});

document.addEventListener("router:decided", (event) => {
  if (typeof ledger !== "undefined") ledger.bulkStale = true; // the ledger view's bulk count
  // After a decision made from the queue, the next undecided proposal opens by itself.
  const saved = event.detail.proposal;
  if (!queue.advance || !saved || saved.id !== queue.current) return;
  const to = saved.decision && saved.decision.lead_unit ? `主办 ${saved.decision.lead_unit}` : "转出";
  queue.note = `上一件 ${saved.number} 已记入台账（${to}），已打开下一件。`;
  openNext(saved.id);
});

// Ctrl+Enter: route the pasted text, or confirm (save the correction when it is open).
document.addEventListener("keydown", (event) => {
  if (!(event.key === "Enter" && (event.ctrlKey || event.metaKey))) return;
  if ($("view-route").hidden) return;
  event.preventDefault();
  const result = $("result");
  if (result.hidden || !state.decision) {
    $("route-form").requestSubmit();
    return;
  }
  if (state.stale) return;
  if ($("correct").open) $("btn-correct").click();
  else if (!$("btn-confirm").hidden) $("btn-confirm").click();
});

// -- precedents ---------------------------------------------------------------------------
let precedentsAsked = 0;

document.addEventListener("router:shown", async (event) => {
  const { proposal } = event.detail;
  queue.current = proposal && proposal.status === "待分办" ? proposal.id : null;
  const ask = ++precedentsAsked;
  const body = {
    title: $("f-title").value,
    content: $("f-content").value,
    session: $("f-session").value.trim() || null,
    exclude_id: proposal ? proposal.id : null,
  };
  try {
    const found = await api("POST", "/precedents", body);
    if (ask !== precedentsAsked) return; // a newer proposal is on screen
    renderPrecedents(found);
  } catch (_) {
    $("precedents").hidden = true;
  }
});

function precedentItem(m, why) {
  const what = m.decided ? m.unit : `模型建议 ${m.unit}（未分办）`;
  const facts = [m.session, m.number, what, m.status, m.evaluation ? `评价：${m.evaluation}` : null].filter(Boolean).join(" · ");
  const reasons = el("span", { class: "why" }, `相似 ${pct(m.score)}；${why}：`);
  for (const p of m.places) reasons.append(el("span", { class: "place", title: "共同地点", text: p }), " ");
  if (m.words.length) reasons.append(m.words.join("、"));
  return el(
    "li",
    { "data-id": String(m.id) },
    el("strong", { text: m.title || "（无标题）" }),
    m.deputy_name ? `（${m.deputy_name}）` : "",
    el("br"),
    facts,
    el("button", { type: "button", text: "打开", onclick: () => openProposal(m.id) }),
    el("br"),
    reasons,
  );
}

function renderPrecedents(found) {
  const past = $("p-past");
  const merge = $("p-merge");
  past.replaceChildren(...found.precedents.map((m) => precedentItem(m, "共同")));
  if (!found.precedents.length) past.append(el("li", { class: "none", text: "台账中没有相近的已分办建议。" }));
  merge.replaceChildren(...found.merge_candidates.map((m) => precedentItem(m, "共同")));
  if (!found.merge_candidates.length) merge.append(el("li", { class: "none", text: "本届次没有内容相近的建议。" }));
  $("precedents").hidden = false;
}

// -- bulk confirmation --------------------------------------------------------------------
// Two steps in the page itself (no pop-up): the count first, then one click confirms them all.
async function bulkBox(box, session, after) {
  let preview;
  try {
    preview = await api("GET", `/ledger/bulk-confirm?${new URLSearchParams({ session })}`);
  } catch (error) {
    box.replaceChildren(el("span", { class: "msg error", text: error.message }));
    return;
  }
  const units = Object.entries(preview.by_unit).map(([u, n]) => `${u} ${n}`).join("，");
  const record = preview.checked
    ? `此前逐件分办的同类建议 ${preview.checked} 件中，${preview.agreed} 件（${pct(preview.agreed / preview.checked)}）与模型建议一致。`
    : "台账中还没有逐件分办过的同类建议可供核对。";
  const msg = el("span", { class: "msg", role: "status" });
  if (!preview.count) {
    box.replaceChildren(el("span", { class: "muted", text: `${session}：没有可批量确认的待分办建议。` }));
    return;
  }
  const start = el("button", { type: "button", class: "primary bulk-start", text: `批量确认 ${preview.count} 件…` });
  box.replaceChildren(
    el("span", { text: `${session}：可批量确认 ${preview.count} 件（${units}）。` }),
    start,
    el("span", { class: "muted", text: record }),
    msg,
  );
  start.addEventListener("click", () => {
    const go = el("button", { type: "button", class: "primary bulk-go", text: `确认这 ${preview.count} 件按模型建议分办` });
    const cancel = el("button", { type: "button", text: "取消", onclick: () => bulkBox(box, session, after) });
    start.replaceWith(go, cancel);
    go.addEventListener("click", async () => {
      if (!dispatcher()) {
        msg.textContent = "请先在右上角填写经办人姓名并保存。";
        msg.className = "msg error";
        return;
      }
      go.disabled = true;
      cancel.disabled = true;
      try {
        const done = await api("POST", "/ledger/bulk-confirm", { session, ids: preview.ids }, true);
        const skipped = done.skipped.length ? `，${done.skipped.length} 件未确认（${done.skipped.map((s) => s.reason).join("；")}）` : "";
        const text = `已批量确认 ${done.confirmed} 件${skipped}。每件都记入修改记录（批量确认），可在台账中逐件撤销。`;
        box.replaceChildren(el("span", { class: "msg ok bulk-done", text }));
        loadPick();
        if (after) after(text);
      } catch (error) {
        msg.textContent = error.message;
        msg.className = "msg error";
        go.disabled = false;
        cancel.disabled = false;
      }
    });
  });
}

document.addEventListener("router:batch", (event) => {
  const { register, session, confirmable } = event.detail;
  const box = $("batch-bulk");
  if (!register || !session) {
    box.hidden = !confirmable;
    box.replaceChildren(el("span", { class: "muted", text: `可批量确认 ${confirmable} 件：勾选“同时登记到台账”并填写届次后，可在此一键确认。` }));
    return;
  }
  box.hidden = false;
  bulkBox(box, session, null);
});

// Others register and decide too: keep the queue's count fresh while the page is open.
window.addEventListener("focus", () => { if (!$("view-route").hidden) loadPick(); });
setInterval(() => { if (!document.hidden && !$("view-route").hidden) loadPick(); }, 60_000);
