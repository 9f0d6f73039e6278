// The dispatcher's page: route a proposal, confirm or correct it, follow the ledger.
// Plain DOM: every text from the server or the user is set with textContent, never as HTML.
"use strict";

const OUT = "__outside__";
const state = { units: null, decision: null, text: "", proposal: null, stale: false, timezone: "Asia/Shanghai" };

// static/common.js's helpers, global here because ledger.js and desk.js use them too
const { API, $, el, say } = routerPage;

const pct = (x) => `${Math.round(x * 100)}%`;

function shownTime(iso) {
  // A time as the bureau reads it (ROUTER_TIMEZONE, from /desk/config), not UTC.
  try {
    const parts = new Intl.DateTimeFormat("zh-CN", {
      timeZone: state.timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
    }).formatToParts(new Date(iso));
    const v = Object.fromEntries(parts.map((p) => [p.type, p.value]));
    return `${v.year}-${v.month}-${v.day} ${v.hour}:${v.minute}`;
  } catch (_) {
    return String(iso).slice(0, 16).replace("T", " ");
  }
}
const dispatcher = () => (localStorage.getItem("router.dispatcher") || "").trim();

// -- API ------------------------------------------------------------------------------------
// write: the saved token and the dispatcher's name go along (the ledger records who decided)
async function api(method, path, body, write = false) {
  try {
    return await routerPage.call(method, path, body, write ? { who: dispatcher() } : {});
  } catch (error) {
    if (error.status === 401) error.message += " 请在右上角填写访问令牌。";
    throw error;
  }
}

// -- setup ----------------------------------------------------------------------------------
function unitName(label) {
  const unit = state.units && state.units.units.find((u) => u.label === label);
  return unit ? unit.unit : label;
}

function fillChoices() {
  const { units, departments, outside_label: outside } = state.units;
  const lead = $("c-lead");
  lead.replaceChildren();
  for (const u of units) lead.append(el("option", { value: u.label, text: `${u.label}（${u.unit}）` }));
  lead.append(el("option", { value: OUT, text: `转出：${outside}` }));
  const co = $("c-co");
  co.replaceChildren(el("legend", { text: "会办单位" }));
  for (const u of units) co.append(el("label", {}, el("input", { type: "checkbox", value: u.label }), u.label));
  const deps = $("c-deps");
  deps.replaceChildren(el("legend", { text: "责任部门（整件或部分转出）" }));
  for (const d of departments) deps.append(el("label", { title: d.handles }, el("input", { type: "checkbox", value: d.name }), d.name));
  const filter = $("l-unit");
  for (const u of units) filter.append(el("option", { value: u.label, text: u.label }));
  filter.append(el("option", { value: outside, text: `${outside}（转出）` }));
}

async function init() {
  $("dispatcher").value = dispatcher();
  $("token").value = sessionStorage.getItem("router.token") || "";
  showWho();
  try {
    try { state.timezone = (await api("GET", "/desk/config")).timezone; } catch (_) { /* keep the default */ }
    state.units = await api("GET", "/units");
    fillChoices();
    const model = await api("GET", "/model");
    const f1 = model.metrics && model.metrics.full ? `，留出集宏 F1 ${model.metrics.full.macro_f1.toFixed(3)}` : "";
    $("model-info").textContent = `模型 ${model.version}（训练于 ${model.trained_at ? shownTime(model.trained_at) : "未知"}${f1}）`;
  } catch (error) {
    say("route-msg", `无法连接服务：${error.message}`, "error");
  }
  await loadPick();
}

function showWho() {
  $("who-state").textContent = dispatcher() ? `当前：${dispatcher()}` : "请填写经办人姓名";
}

$("who").addEventListener("submit", (event) => {
  event.preventDefault();
  localStorage.setItem("router.dispatcher", $("dispatcher").value.trim());
  sessionStorage.setItem("router.token", $("token").value.trim());
  showWho();
});

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => showView(tab.dataset.view));
}

function showView(name) {
  for (const tab of document.querySelectorAll(".tab")) tab.classList.toggle("active", tab.dataset.view === name);
  for (const view of document.querySelectorAll("main > .view")) view.hidden = view.id !== `view-${name}`;
  if (name === "ledger") loadLedger();
  if (name === "route") loadPick();
}

// -- routing ------------------------------------------------------------------------------
const FIELDS = ["f-number", "f-session", "f-kind", "f-deputy", "f-deputy-unit", "f-received", "f-title", "f-content"];

async function loadPick() {
  const pick = $("pick");
  const keep = pick.value;
  try {
    const params = new URLSearchParams({ status: "待分办", limit: "500", sort: "number" });
    const q = $("q-search") ? $("q-search").value.trim() : "";
    if (q) params.set("q", q);
    const list = await api("GET", `/proposals?${params}`);
    pick.replaceChildren(el("option", { value: "", text: "（新建议：手工粘贴）" }));
    for (const p of list.items) pick.append(el("option", { value: String(p.id), text: `${p.number} ${p.title}` }));
    pick.value = keep;
    document.dispatchEvent(new CustomEvent("router:queue", { detail: { total: list.total, shown: list.items.length } }));
  } catch (_) { /* the list is a convenience; routing still works */ }
}

$("pick").addEventListener("change", () => {
  if ($("pick").value) openProposal(Number($("pick").value));
  else clearForm();
});

function clearForm() {
  for (const id of FIELDS) $(id).value = id === "f-kind" ? "建议" : "";
  for (const id of ["f-number", "f-session"]) $(id).readOnly = false;
  $("pick").value = "";
  state.proposal = null;
  state.decision = null;
  $("result").hidden = true;
  say("route-msg", "");
}

$("btn-clear").addEventListener("click", clearForm);

for (const id of ["f-title", "f-content"]) {
  $(id).addEventListener("input", () => {
    if (state.decision && !state.proposal) markStale(true);
  });
}

function markStale(stale) {
  state.stale = stale;
  $("result").classList.toggle("stale", stale);
  $("btn-confirm").disabled = stale;
  $("btn-correct").disabled = stale;
  if (stale) say("decide-msg", "内容已修改，请重新计算分办建议。", "error");
}

$("route-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (state.proposal) {
    say("route-msg", "已登记的建议使用登记时的模型建议；如需重新计算请先清空。", "");
    return;
  }
  const title = $("f-title").value;
  const content = $("f-content").value;
  say("route-msg", "正在计算……");
  $("btn-route").disabled = true;
  try {
    const result = await api("POST", "/route", { title, content });
    say("route-msg", "");
    showDecision(result, result.text, null);
  } catch (error) {
    say("route-msg", error.message, "error");
  } finally {
    $("btn-route").disabled = false;
  }
});

async function openProposal(id) {
  try {
    const p = await api("GET", `/proposals/${id}`);
    showView("route");
    $("f-number").value = p.number;
    $("f-session").value = p.session;
    $("f-kind").value = p.kind;
    $("f-deputy").value = p.deputy_name;
    $("f-deputy-unit").value = p.deputy_unit;
    $("f-received").value = p.received_on || "";
    $("f-title").value = p.title;
    $("f-content").value = p.content;
    for (const f of ["f-number", "f-session"]) $(f).readOnly = true;
    if (p.suggestion) showDecision(p.suggestion, p.text, p);
    else say("route-msg", "该建议的模型建议无法显示（由旧版本保存）。", "error");
  } catch (error) {
    say("route-msg", error.message, "error");
  }
}

function showDecision(d, text, proposal) {
  state.decision = d;
  state.text = text;
  state.proposal = proposal;
  markStale(false);
  say("decide-msg", "");
  $("result").hidden = false;

  const main = $("r-main");
  const outside = d.jurisdiction === "outside";
  main.className = outside ? "main outside" : "main";
  main.replaceChildren(
    outside ? "非公安职责，建议转出：" : "建议承办单位：",
    el("strong", { id: "r-unit", text: outside ? (d.departments.join("、") || "未能确定责任部门") : `${d.unit}（${d.unit_name}）` }),
  );
  $("r-fill").style.width = pct(d.confidence);
  $("r-bar").classList.toggle("low", d.needs_review);
  $("r-bar").setAttribute("aria-valuenow", String(Math.round(d.confidence * 100)));
  $("r-confidence").textContent = `置信度 ${pct(d.confidence)}`;

  const alts = $("r-alts");
  alts.replaceChildren(el("span", { class: "muted", text: "备选：" }));
  for (const a of d.alternatives) {
    const bar = el("span", { class: "bar small" }, el("span", { class: "fill" }));
    bar.firstChild.style.width = pct(a.confidence);
    alts.append(el("div", { class: "alt" }, `${a.unit} ${pct(a.confidence)}`, bar));
  }
  $("r-co").textContent = d.co_units.length ? `建议会办：${d.co_units.join("、")}` : "";

  const jur = $("r-jur");
  jur.hidden = d.jurisdiction === "police";
  if (!jur.hidden) {
    const list = el("ul");
    for (const part of d.outside_parts) {
      list.append(el("li", { text: `${part.part} → ${part.departments.join("、")}（依据：${part.words.join("、")}）` }));
    }
    jur.replaceChildren(
      el("strong", { text: outside ? "整件不属于公安机关职责" : "部分内容不属于公安机关职责" }),
      list,
    );
  }
  const review = $("r-review");
  const lines = [
    d.needs_review
      ? el("p", { class: "review", text: `需人工复核：${d.review_reasons.join("；")}` })
      : el("p", { class: "okline", text: "可直接确认。" }),
  ];
  if (d.bulk_confirmable) lines.push(el("p", { class: "muted", text: "属可批量确认的一类（在真实文本上测得 97% 以上正确）。" }));
  if (d.local && d.local.applied) {
    lines.push(el("p", { class: "muted", text: `按本局设定的本地分工：“${d.local.name}”由 ${d.local.handler} 承办。` }));
  }
  review.replaceChildren(...lines);
  showCurrent(proposal);
  const shown = asTyped(text, d.evidence);
  $("r-text-label").textContent = shown.typed ? "原文（标出依据词）" : "建议文字（标点已统一，标出依据词）";
  showText(shown.text, d.evidence);
  const terms = $("r-terms");
  terms.replaceChildren(...d.top_terms.map((t) => el("li", { title: `权重 ${t.weight}`, text: t.term })));
  $("r-version").textContent = `模型版本 ${d.model_version}`;
  prefillCorrection(d, proposal);
  document.dispatchEvent(new CustomEvent("router:shown", { detail: { decision: d, proposal } }));
}

function showCurrent(p) {
  const box = $("r-current");
  const decided = p && p.decision;
  box.hidden = !decided;
  $("btn-confirm").hidden = Boolean(decided);
  if (!decided) return;
  const dec = p.decision;
  const what = dec.lead_unit ? `主办 ${dec.lead_unit}${dec.co_units.length ? `，会办 ${dec.co_units.join("、")}` : ""}` : `转出 ${dec.referral_departments.join("、")}`;
  box.textContent = `已分办：${what}（${dec.decided_by}，${shownTime(dec.decided_at)}），状态 ${p.status}。重新分办须选择原因。`;
  $("correct").open = true;
}

// The evidence offsets are in the normalised text (，→, and the like). Show the text as the
// clerk typed it when it lines up with the normalised one character for character, so that
// 原文 is the original; otherwise show the normalised text and say so.
function asTyped(text, evidence) {
  const typed = [$("f-title").value, $("f-content").value].map((p) => p.trim()).filter(Boolean).join("\n");
  if (typed.length !== text.length) return { text, typed: false };
  for (const e of evidence) {
    if (typed.slice(e.start, e.end).normalize("NFKC") !== text.slice(e.start, e.end)) return { text, typed: false };
  }
  return { text: typed, typed: true };
}

function showText(text, evidence) {
  const box = $("r-text");
  box.replaceChildren();
  const spans = [...evidence].sort((a, b) => a.start - b.start);
  let at = 0;
  for (const e of spans) {
    if (e.start < at) continue; // overlapping evidence: keep the first
    box.append(text.slice(at, e.start));
    box.append(el("mark", { title: `可能属于：${e.departments.join("、")}`, text: text.slice(e.start, e.end) }));
    at = e.end;
  }
  box.append(text.slice(at));
}

function prefillCorrection(d, proposal) {
  // A decided proposal re-opens with its saved decision, so that a small edit keeps the rest.
  const saved = proposal && proposal.decision;
  const lead = saved ? (saved.lead_unit || OUT) : (d.unit || OUT);
  const co = saved ? saved.co_units : d.co_units;
  const deps = saved ? saved.referral_departments : (d.jurisdiction === "police" ? [] : d.departments);
  $("c-lead").value = lead;
  for (const box of $("c-co").querySelectorAll("input")) box.checked = co.includes(box.value);
  for (const box of $("c-deps").querySelectorAll("input")) box.checked = deps.includes(box.value);
  $("c-reason").value = "";
  $("c-note").value = saved ? (saved.lead_unit ? saved.note || "" : saved.referral_reason || "") : "";
}

// -- deciding -------------------------------------------------------------------------------
function referralReason(d) {
  const parts = d.outside_parts.map((p) => `${p.part}（${p.departments.join("、")}）`);
  return `不属于公安机关职责${parts.length ? "：" + parts.join("；") : ""}`;
}

function fromSuggestion(d) {
  if (d.unit) {
    return { lead_unit: d.unit, co_units: d.co_units, referral_departments: d.jurisdiction === "partial" ? d.departments : [] };
  }
  return { lead_unit: null, co_units: [], referral_departments: d.departments, referral_reason: referralReason(d) };
}

function fromCorrection() {
  const lead = $("c-lead").value;
  const checked = (id) => [...$(id).querySelectorAll("input:checked")].map((b) => b.value);
  const note = $("c-note").value.trim() || null;
  const body = { reason_code: $("c-reason").value || null, referral_departments: checked("c-deps") };
  if (lead === OUT) return { ...body, lead_unit: null, co_units: [], referral_reason: note };
  return { ...body, lead_unit: lead, co_units: checked("c-co").filter((u) => u !== lead), note };
}

function registration() {
  return {
    number: $("f-number").value.trim(),
    session: $("f-session").value.trim(),
    kind: $("f-kind").value,
    deputy_name: $("f-deputy").value.trim(),
    deputy_unit: $("f-deputy-unit").value.trim(),
    received_on: $("f-received").value || null,
    title: $("f-title").value,
    content: $("f-content").value,
  };
}

async function submitDecision(body) {
  if (!dispatcher()) {
    say("decide-msg", "请先在右上角填写经办人姓名并保存。", "error");
    return;
  }
  let p = state.proposal;
  try {
    if (!p) {
      const reg = registration();
      if (!reg.number || !reg.session) {
        say("decide-msg", "确认前请填写编号和届次，以便记入台账。", "error");
        return;
      }
      p = await api("POST", "/proposals", reg, true);
      state.proposal = p;
      $("f-number").readOnly = true;
      $("f-session").readOnly = true;
    }
    const saved = await api("POST", `/proposals/${p.id}/decision`, { ...body, expected_version: p.version }, true);
    state.proposal = saved;
    const dec = saved.decision;
    const what = dec.lead_unit
      ? `主办 ${dec.lead_unit}（${unitName(dec.lead_unit)}）${dec.co_units.length ? `，会办 ${dec.co_units.join("、")}` : ""}，办理期限 ${saved.due_on}`
      : `已转出：${dec.referral_departments.join("、")}`;
    say("decide-msg", `已记入台账（${saved.session} ${saved.number}）：${what}。`, "ok");
    $("btn-confirm").hidden = true;
    await loadPick();
    document.dispatchEvent(new CustomEvent("router:decided", { detail: { proposal: saved } }));
  } catch (error) {
    say("decide-msg", error.message, "error");
    if (error.status === 409 && p && p.id) {
      const fresh = await api("GET", `/proposals/${p.id}`);
      state.proposal = fresh;
      showCurrent(fresh);
    }
  }
}

$("btn-confirm").addEventListener("click", () => {
  if (state.decision && !state.stale) submitDecision(fromSuggestion(state.decision));
});

$("btn-correct").addEventListener("click", () => {
  if (!state.decision || state.stale) return;
  const body = fromCorrection();
  const suggested = state.proposal && state.proposal.suggested_unit !== undefined ? state.proposal.suggested_unit : state.decision.unit;
  if (body.lead_unit !== suggested && !body.reason_code) {
    say("decide-msg", "与模型建议不同，请选择原因。", "error");
    return;
  }
  submitDecision(body);
});

// The ledger view (台账一览) is static/ledger.js.

init();
