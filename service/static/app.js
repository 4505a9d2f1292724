/* DermCoder coder's page.
 *
 * The note is untrusted input and protected health information:
 *  - every piece of note text reaches the DOM through textContent / text nodes, never innerHTML;
 *  - it is sent only to this service (relative URLs), never logged, never stored in the browser.
 * Evidence offsets from the service are Python character (code point) offsets; they are
 * mapped to JavaScript's UTF-16 indices before slicing so that emoji and other astral
 * characters do not shift the highlights.
 */
"use strict";

(function () {
  const PALETTE_SIZE = 10;
  const CPT_PATTERN = /^(\d{4}[0-9A-Z]|[A-Z]\d{4})$/; // CPT (incl. Category II/III) or HCPCS Level II
  const ICD_PATTERN = /^[A-Z]\d[0-9A-Z](\.[0-9A-Z]{1,4})?$/;

  const FACT_WORDS = {
    lesion_size: "lesion size", margin: "margin", pathology: "pathology", repair_length: "repair length",
    repair_type: "repair type", area: "treated area", mohs_blocks: "Mohs blocks", lesion_count: "number of lesions",
    biopsy_technique: "biopsy technique", laterality: "laterality (left/right)", site: "anatomic site",
    id_complexity: "simple vs complicated I&D", measurement_unit: "measurement unit", other: "other",
  };
  const WARNING_WORDS = {
    modifier_xs: "Modifier XS added", ncci_bundled: "Bundled code removed", mue_capped: "Units capped",
    mue_exceeded: "Units over the limit", band_edge: "Size on a band edge", bundled_biopsy: "Biopsy included",
    mohs_other_reader: "Mohs codes do not apply", att_includes_excision: "Excision included in the flap",
  };
  const HISTOLOGY_WORDS = {
    bcc: "basal cell carcinoma", scc: "squamous cell carcinoma", sccis: "squamous cell carcinoma in situ",
    mis: "melanoma in situ", ak: "actinic keratosis", isk: "irritated seborrheic keratosis",
    sk: "seborrheic keratosis", merkel: "Merkel cell carcinoma",
  };

  const $ = (id) => document.getElementById(id);
  const el = {
    noteText: $("note-text"), noteFile: $("note-file"), suggest: $("suggest"), editNote: $("edit-note"),
    editor: $("editor"), viewer: $("viewer"), noteView: $("note-view"), caption: $("evidence-caption"),
    showAll: $("show-all"), status: $("status"), error: $("error"), empty: $("empty"), output: $("output"),
    cptList: $("cpt-list"), icdList: $("icd-list"), cptCount: $("cpt-count"), icdCount: $("icd-count"),
    issues: $("issues"), issuesBlock: $("issues-block"), lesions: $("lesions"), lesionsBlock: $("lesions-block"),
    alternatives: $("alternatives"), altBlock: $("alt-block"), altCount: $("alt-count"), model: $("model"),
    badge: $("st-badge"), acceptAll: $("accept-all"), coder: $("coder"), results: $("results"),
  };

  /** Everything about the note currently shown. Reset on every new suggestion. */
  const state = {
    text: "", unitIndex: [], result: null, auditId: null,
    items: new Map(), // key -> {key, system, code, kind, title, evidence, colour, units, modifiers, row}
    selected: null, busy: false, requestSeq: 0,
  };

  // ---------- small DOM helpers (text only; never HTML strings) ----------
  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "hidden") node.hidden = true;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function pct(x) { return (typeof x === "number" && isFinite(x)) ? `${Math.round(x * 100)}%` : "–"; }
  function cm(x) { return (typeof x === "number" && isFinite(x)) ? `${Number(x.toFixed(2))} cm` : null; }
  function words(s) { return String(s || "").replace(/_/g, " "); }
  function safeId(s) { return String(s).replace(/[^A-Za-z0-9_-]/g, "_"); }

  function announce(message) {
    // Clearing first makes screen readers repeat an identical message.
    el.status.textContent = "";
    window.setTimeout(() => { el.status.textContent = message; }, 30);
  }
  function showError(message) {
    el.error.textContent = message;
    el.error.hidden = false;
    el.results.scrollTop = 0; // the alert sits at the top of the results pane
  }
  function hideError() { el.error.hidden = true; el.error.textContent = ""; }

  // ---------- offsets: code points (Python) -> UTF-16 units (JavaScript) ----------
  function buildUnitIndex(text) {
    const index = [];
    let unit = 0;
    for (const ch of text) { index.push(unit); unit += ch.length; }
    index.push(unit);
    return index;
  }
  function toUnits(span) {
    const n = state.unitIndex.length - 1;
    const s = Number(span.start), e = Number(span.end);
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > n || s >= e) return null;
    return [state.unitIndex[s], state.unitIndex[e]];
  }

  // ---------- the note with its evidence ----------
  function activeItems() {
    if (el.showAll.checked) {
      // Every code, plus a selected question or lesion so that its evidence still shows.
      return [...state.items.values()].filter((it) => it.evidence.length && (it.kind === "code" || it.key === state.selected));
    }
    const it = state.selected && state.items.get(state.selected);
    return it ? [it] : [];
  }

  /** Cut the note at every evidence boundary so overlapping spans of several codes become
   *  one <mark> per piece, each knowing every code (and label) that covers it. */
  function renderNote() {
    const text = state.text;
    const items = activeItems();
    const ranges = [];
    for (const it of items) {
      for (const span of it.evidence) {
        const r = toUnits(span);
        if (r) ranges.push({ a: r[0], b: r[1], it, label: span.label });
      }
    }
    const cuts = new Set([0, text.length]);
    for (const r of ranges) { cuts.add(r.a); cuts.add(r.b); }
    const points = [...cuts].sort((x, y) => x - y);

    const pieces = [];
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i], b = points[i + 1];
      const covering = ranges.filter((r) => r.a <= a && r.b >= b);
      const keys = [...new Set(covering.map((r) => r.it.key))];
      const last = pieces[pieces.length - 1];
      // Abutting pieces covered by the same codes stay one mark.
      if (last && last.keys.join(" ") === keys.join(" ")) {
        last.b = b;
        for (const r of covering) last.covering.push(r);
      } else {
        pieces.push({ a, b, keys, covering: covering.slice() });
      }
    }

    const frag = document.createDocumentFragment();
    for (const p of pieces) {
      const chunk = text.slice(p.a, p.b);
      if (!p.keys.length) { frag.append(document.createTextNode(chunk)); continue; }
      const mark = h("mark", { "data-keys": p.keys.join(" ") });
      mark.textContent = chunk;
      const its = p.keys.map((k) => state.items.get(k));
      const lead = its.find((it) => it.key === state.selected) || its[0];
      mark.className = `ev ${lead.colour}` + (p.keys.includes(state.selected) ? " sel" : "");
      if (its.length > 1) {
        mark.classList.add("multi");
        const stripes = its.map((it, i) => `var(--${it.colour}) ${i * 6}px ${(i + 1) * 6}px`).join(", ");
        mark.style.backgroundImage = `repeating-linear-gradient(135deg, ${stripes})`;
      }
      const labels = [];
      for (const it of its) {
        const own = [...new Set(p.covering.filter((r) => r.it === it).map((r) => r.label))];
        labels.push(`${it.title}: ${own.join(", ")}`);
      }
      mark.title = labels.join("\n");
      frag.append(mark);
    }
    clear(el.noteView);
    el.noteView.append(frag);
    updateCaption(items);
  }

  function updateCaption(items) {
    clear(el.caption);
    if (el.showAll.checked) {
      const codes = items.filter((it) => it.kind === "code").length;
      el.caption.append(`Evidence for all ${codes} codes; striped text supports more than one code.`);
      return;
    }
    const it = state.selected && state.items.get(state.selected);
    if (!it) { el.caption.append("Select a code to see its evidence."); return; }
    const count = it.evidence.length;
    el.caption.append(h("span", { class: `swatch ${it.colour}`, "aria-hidden": "true" }), " Evidence for ",
      h("strong", { text: it.title }), ` (${count} ${count === 1 ? "span" : "spans"})`);
    const labels = [...new Set(it.evidence.map((s) => s.label).filter(Boolean))];
    if (labels.length) el.caption.append(": ", labels.map((l) => l.toLowerCase()).join(", "));
  }

  function select(key, { scroll = true } = {}) {
    state.selected = key;
    for (const it of state.items.values()) {
      const on = it.key === key;
      if (it.row) it.row.classList.toggle("selected", on);
      if (it.toggle) it.toggle.setAttribute("aria-pressed", on ? "true" : "false");
    }
    renderNote();
    if (scroll) {
      const first = el.noteView.querySelector("mark.sel");
      const still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      if (first) first.scrollIntoView({ block: "center", behavior: still ? "auto" : "smooth" });
    }
  }

  // ---------- suggestion ----------
  function showEditor() {
    el.editor.hidden = false;
    el.viewer.hidden = true;
    el.editNote.hidden = true;
    el.noteText.focus();
  }
  function showViewer() {
    el.editor.hidden = true;
    el.viewer.hidden = false;
    el.editNote.hidden = false;
  }

  function describeHttpError(status, body) {
    let detail = "";
    if (body && typeof body.detail === "string") detail = body.detail;
    else if (body && Array.isArray(body.detail)) {
      detail = body.detail.map((d) => {
        const where = Array.isArray(d.loc) ? d.loc.filter((x) => x !== "body").join(".") : "";
        return where ? `${where}: ${d.msg}` : String(d.msg || "");
      }).join("; ");
    } else if (body && typeof body.message === "string") detail = body.message;
    const suffix = detail ? ` ${detail}.` : "";
    if (status === 413) return `The note is too long for this service (HTTP 413).${suffix}`;
    if (status === 422) return `The service could not read the request (HTTP 422).${suffix}`;
    if (status === 400) return `The service rejected the request (HTTP 400).${suffix}`;
    if (status === 404) return `The service does not offer this (HTTP 404).${suffix}`;
    if (status >= 500) return `The service had an internal error (HTTP ${status}). Try again; if it persists, tell the DermCoder administrator.`;
    return `The service answered HTTP ${status}.${suffix}`;
  }

  async function readJson(response) {
    try { return await response.json(); } catch (_) { return null; }
  }

  async function suggest() {
    if (state.busy) return;
    const text = el.editor.hidden ? state.text : el.noteText.value;
    hideError();
    if (!text.trim()) {
      showError("Paste a note or open a .txt file first: there is no text to code.");
      announce("There is no note text to code.");
      el.noteText.focus();
      return;
    }
    state.busy = true;
    const seq = ++state.requestSeq;
    el.suggest.disabled = true;
    el.suggest.setAttribute("aria-busy", "true");
    el.suggest.textContent = "Coding…";
    announce("Coding the note…");
    try {
      let response;
      try {
        response = await fetch("v1/suggest", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ id: `page-${Date.now()}`, text }),
          credentials: "same-origin",
          cache: "no-store",
        });
      } catch (_) {
        throw new Error("Could not reach the DermCoder service. Check that it is running and try again.");
      }
      const body = await readJson(response);
      if (seq !== state.requestSeq) return;
      if (!response.ok) throw new Error(describeHttpError(response.status, body));
      if (!body || !Array.isArray(body.cpt)) throw new Error("The service answered with something that is not a suggestion.");
      show(text, body);
      const nCpt = body.cpt.length, nIcd = (body.icd10 || body.icd || []).length;
      announce(`${nCpt} CPT and ${nIcd} ICD-10-CM ${nCpt + nIcd === 1 ? "code" : "codes"} suggested` +
        `${body.straight_through ? "; straight-through" : "; needs a coder's review"}.`);
    } catch (err) {
      resetResults();
      showError(err.message);
      announce(err.message);
    } finally {
      state.busy = false;
      el.suggest.disabled = false;
      el.suggest.removeAttribute("aria-busy");
      el.suggest.textContent = "Suggest codes";
    }
  }

  function resetResults() {
    state.result = null; state.auditId = null; state.items = new Map(); state.selected = null;
    el.output.hidden = true; el.empty.hidden = false; el.badge.hidden = true; el.acceptAll.hidden = true;
    for (const list of [el.cptList, el.icdList, el.issues, el.lesions, el.alternatives]) clear(list);
  }

  function show(text, result) {
    resetResults();
    state.text = text;
    state.unitIndex = buildUnitIndex(text);
    state.result = result;
    state.auditId = typeof result.audit_id === "string" && result.audit_id ? result.audit_id : null;

    const icd = result.icd10 || result.icd || [];
    let colour = 0;
    const nextColour = () => `c${colour++ % PALETTE_SIZE}`;
    result.cpt.forEach((line, i) => register({
      key: `cpt-${i}`, system: "CPT", code: String(line.code), kind: "code", title: `CPT ${line.code}`,
      evidence: line.evidence || [], colour: nextColour(), units: line.units ?? 1, modifiers: line.modifiers || [], line,
    }));
    icd.forEach((line, i) => register({
      key: `icd-${i}`, system: "ICD10CM", code: String(line.code), kind: "code", title: `ICD-10-CM ${line.code}`,
      evidence: line.evidence || [], colour: nextColour(), units: null, modifiers: null, line,
    }));

    el.cptCount.textContent = `(${result.cpt.length})`;
    el.icdCount.textContent = `(${icd.length})`;
    for (const it of state.items.values()) {
      (it.system === "CPT" ? el.cptList : el.icdList).append(codeRow(it));
    }
    if (!result.cpt.length) el.cptList.append(h("li", { class: "none", text: "No CPT code: nothing billable was found in this note." }));
    if (!icd.length) el.icdList.append(h("li", { class: "none", text: "No ICD-10-CM code suggested." }));

    renderIssues(result);
    renderLesions(result.lesions || result.frames || []);
    renderAlternatives(result.alternatives || []);

    el.badge.hidden = false;
    el.badge.className = `badge ${result.straight_through ? "ok" : "review"}`;
    el.badge.textContent = result.straight_through ? "Straight-through" : "Coder review";
    el.badge.title = `Note confidence ${pct(result.note_confidence)}` +
      (result.straight_through ? ": could be billed without review" : ": below the straight-through threshold");

    const m = result.model || {};
    el.model.textContent = `Model ${m.version || "?"} · pipeline ${m.pipeline || "?"} · note confidence ${pct(result.note_confidence)}` +
      (state.auditId ? ` · audit ${state.auditId}` : " · no audit id: decisions cannot be stored");
    updateAcceptAll();

    el.empty.hidden = true;
    el.output.hidden = false;
    showViewer();
    const first = state.items.keys().next();
    if (!first.done) select(first.value, { scroll: false });
    else renderNote();
    el.noteView.scrollTop = 0;
  }

  function register(it) { state.items.set(it.key, it); }

  // ---------- code rows ----------
  function codeRow(it) {
    const line = it.line;
    const descId = `desc-${safeId(it.key)}`;
    const toggle = h("button", {
      type: "button", class: "code-btn", "aria-pressed": "false", "aria-describedby": descId,
      "data-key": it.key, title: "Show this code's evidence in the note",
    }, h("span", { class: `swatch ${it.colour}`, "aria-hidden": "true" }), h("span", { class: "code", text: it.code }),
    h("span", { class: "visually-hidden", text: ` ${it.system === "CPT" ? "CPT" : "ICD-10-CM"}, confidence ${pct(line.confidence)}` }));
    toggle.addEventListener("click", () => select(it.key));
    toggle.addEventListener("keydown", onCodeKey);

    const facts = h("div", { class: "facts" });
    if (it.system === "CPT") {
      facts.append(h("span", { class: "units", title: "units" }, "× ", String(it.units)));
      for (const mod of it.modifiers) facts.append(h("span", { class: "modifier", title: "modifier", text: mod }));
    }
    const conf = Number(line.confidence);
    const level = conf >= 0.85 ? "high" : conf >= 0.6 ? "mid" : "low";
    const bar = h("span", { class: `bar ${level}`, "aria-hidden": "true" }, h("span", { class: "fill" }));
    bar.firstChild.style.width = pct(Math.max(0, Math.min(1, conf || 0)));
    facts.append(h("span", { class: "confidence", title: "confidence" }, bar, h("span", { class: "pct", text: pct(conf) })));

    const desc = h("p", { class: "desc", id: descId, text: line.description || "" });
    const extra = h("p", { class: "rationale" });
    if (it.system === "CPT" && Array.isArray(line.diagnoses) && line.diagnoses.length) {
      extra.append(h("span", { class: "dx" }, "Dx ", line.diagnoses.join(", ")), line.rationale ? " · " : "");
    }
    if (line.rationale) extra.append(line.rationale);

    const decision = decisionBox(it);
    const row = h("li", { class: `code-row ${it.colour}`, "data-key": it.key, "data-code": it.code, "data-system": it.system },
      h("div", { class: "row-head" }, toggle, facts, decision), desc, extra.childNodes.length ? extra : null, it.ui.form);
    row.addEventListener("click", (ev) => {
      if (ev.target.closest("button, input, label, form, a")) return;
      select(it.key);
    });
    it.row = row;
    it.toggle = toggle;
    return row;
  }

  /** Up/Down (and Home/End) move between code buttons; each move selects the code. */
  function onCodeKey(ev) {
    const keys = ["ArrowDown", "ArrowUp", "Home", "End"];
    if (!keys.includes(ev.key)) return;
    const buttons = [...document.querySelectorAll(".code-btn")];
    const i = buttons.indexOf(ev.currentTarget);
    let j = i;
    if (ev.key === "ArrowDown") j = Math.min(buttons.length - 1, i + 1);
    if (ev.key === "ArrowUp") j = Math.max(0, i - 1);
    if (ev.key === "Home") j = 0;
    if (ev.key === "End") j = buttons.length - 1;
    ev.preventDefault();
    if (j !== i) {
      buttons[j].focus();
      select(buttons[j].dataset.key);
    }
  }

  // ---------- accept / override ----------
  function decisionBox(it) {
    const box = h("div", { class: "decision" });
    const actions = h("div", { class: "decision-actions" });
    const accept = h("button", { type: "button", class: "btn btn-small btn-accept", "data-action": "accept", "aria-label": `Accept ${it.title}` }, "Accept");
    const override = h("button", { type: "button", class: "btn btn-small", "data-action": "override", "aria-expanded": "false", "aria-label": `Override ${it.title}` }, "Override");
    const reject = h("button", { type: "button", class: "btn btn-small btn-reject", "data-action": "reject", "aria-label": `Reject ${it.title}` }, "Reject");
    actions.append(accept, override, reject);

    const result = h("div", { class: "decision-result", hidden: true });
    const form = overrideForm(it);
    form.hidden = true;
    box.append(actions, result);
    it.ui = { box, actions, accept, override, reject, form, result };

    if (!state.auditId) {
      for (const b of [accept, override, reject]) b.disabled = true;
      actions.append(h("span", { class: "muted small", text: "No audit id from the service: decisions cannot be stored." }));
    }
    accept.addEventListener("click", () => decide([{ it, decision: "accepted" }]));
    reject.addEventListener("click", () => decide([{ it, decision: "rejected" }]));
    override.addEventListener("click", () => openOverride(it));
    return box;
  }

  function overrideForm(it) {
    const base = `ovr-${safeId(it.key)}`;
    const codeInput = h("input", {
      id: `${base}-code`, name: "replacement_code", type: "text", class: "code-input", autocomplete: "off",
      spellcheck: "false", required: true, maxlength: "8", "aria-describedby": `${base}-err`,
      placeholder: it.system === "CPT" ? "e.g. 11642" : "e.g. C44.311",
    });
    const fields = [h("div", { class: "field" }, h("label", { for: codeInput.id, text: `Replacement for ${it.code}` }), codeInput)];
    let unitsInput = null, modsInput = null;
    if (it.system === "CPT") {
      unitsInput = h("input", { id: `${base}-units`, name: "units", type: "number", min: "1", max: "999", step: "1", class: "units-input" });
      unitsInput.value = String(it.units || 1);
      modsInput = h("input", { id: `${base}-mods`, name: "modifiers", type: "text", class: "mods-input", autocomplete: "off", spellcheck: "false", placeholder: "e.g. XS, 59" });
      modsInput.value = (it.modifiers || []).join(", ");
      fields.push(h("div", { class: "field" }, h("label", { for: unitsInput.id, text: "Units" }), unitsInput));
      fields.push(h("div", { class: "field" }, h("label", { for: modsInput.id, text: "Modifiers" }), modsInput));
    }
    const err = h("p", { id: `${base}-err`, class: "field-error", "aria-live": "polite" });
    const save = h("button", { type: "submit", class: "btn btn-small btn-primary" }, "Save override");
    const cancel = h("button", { type: "button", class: "btn btn-small btn-quiet" }, "Cancel");
    const form = h("form", { class: "override-form", "aria-label": `Override ${it.title}`, novalidate: true },
      ...fields, h("div", { class: "field buttons" }, save, cancel), err);

    cancel.addEventListener("click", () => closeOverride(it, true));
    form.addEventListener("keydown", (ev) => { if (ev.key === "Escape") { ev.preventDefault(); closeOverride(it, true); } });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const code = codeInput.value.trim().toUpperCase();
      codeInput.value = code;
      const pattern = it.system === "CPT" ? CPT_PATTERN : ICD_PATTERN;
      let problem = "";
      let units = null, mods = null;
      if (!code) problem = "Type the replacement code.";
      else if (!pattern.test(code)) {
        problem = it.system === "CPT"
          ? "A CPT or HCPCS code is five characters, e.g. 11642 or J3301."
          : "An ICD-10-CM code looks like C44.311: a letter, two characters, then an optional dot and up to four more.";
      }
      if (!problem && unitsInput) {
        units = Number(unitsInput.value);
        if (!Number.isInteger(units) || units < 1) problem = "Units must be a whole number of 1 or more.";
        mods = modsInput.value.split(/[\s,]+/).map((m) => m.trim().toUpperCase()).filter(Boolean);
        if (!problem && mods.some((m) => !/^[0-9A-Z]{2}$/.test(m))) problem = "Modifiers are two characters each, e.g. XS, 59, 25.";
        if (!problem && mods.length > 4) problem = "A claim line takes at most four modifiers.";
        if (!problem && code === it.code && units === it.units && mods.join(",") === (it.modifiers || []).join(",")) {
          problem = "That is the suggestion itself: use Accept instead.";
        }
      } else if (!problem && code === it.code) {
        problem = "That is the suggestion itself: use Accept instead.";
      }
      if (problem) {
        err.textContent = problem;
        codeInput.setAttribute("aria-invalid", "true");
        codeInput.focus();
        return;
      }
      err.textContent = "";
      codeInput.removeAttribute("aria-invalid");
      decide([{ it, decision: "overridden", replacement: code, units, modifiers: mods }]);
    });
    it.overrideInputs = { codeInput, unitsInput, modsInput, err };
    return form;
  }

  function openOverride(it) {
    it.ui.form.hidden = false;
    it.ui.actions.hidden = true;
    it.ui.override.setAttribute("aria-expanded", "true");
    it.overrideInputs.codeInput.focus();
  }
  function closeOverride(it, refocus) {
    it.ui.form.hidden = true;
    it.ui.actions.hidden = false;
    it.ui.override.setAttribute("aria-expanded", "false");
    it.overrideInputs.err.textContent = "";
    if (refocus) it.ui.override.focus();
  }

  function decisionWords(d) {
    if (d.decision === "accepted") return "Accepted";
    if (d.decision === "rejected") return "Rejected";
    let s = `Overridden → ${d.replacement}`;
    if (d.units && d.units !== 1) s += ` × ${d.units}`;
    if (d.modifiers && d.modifiers.length) s += ` -${d.modifiers.join(" -")}`;
    return s;
  }

  async function decide(entries) {
    if (!state.auditId || !entries.length) return;
    const coder = el.coder.value.trim() || null;
    const decisions = entries.map(({ it, decision, replacement, units, modifiers }) => ({
      system: it.system,
      code: it.code,
      decision,
      replacement_code: decision === "overridden" ? replacement : null,
      units: it.system === "CPT" ? (decision === "overridden" && units ? units : it.units) : null,
      modifiers: it.system === "CPT" ? (decision === "overridden" && modifiers ? modifiers : it.modifiers) : null,
      coder,
    }));
    const auditId = state.auditId;
    const buttons = entries.flatMap(({ it }) => [...it.ui.box.querySelectorAll("button")]);
    buttons.forEach((b) => { b.disabled = true; });
    el.acceptAll.disabled = true;
    try {
      let response;
      try {
        response = await fetch("v1/feedback", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify({ audit_id: auditId, decisions, source: "page" }),
          credentials: "same-origin",
        });
      } catch (_) {
        throw new Error("Could not reach the DermCoder service; the decision was not stored.");
      }
      const body = await readJson(response);
      if (!response.ok) throw new Error(`Not stored. ${describeHttpError(response.status, body)}`);
      if (auditId !== state.auditId) return; // a new note was coded meanwhile
      const stored = body && Number.isInteger(body.stored) ? body.stored : decisions.length;
      entries.forEach((entry) => markDecided(entry));
      if (entries.length > 1) el.results.focus();
      hideError();
      const what = entries.length === 1
        ? `${decisionWords(entries[0])}: ${entries[0].it.title}`
        : `${entries.length} codes accepted`;
      announce(`${what}. Stored (${stored} ${stored === 1 ? "decision" : "decisions"}).`);
    } catch (err) {
      showError(err.message);
      announce(err.message);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      el.acceptAll.disabled = false;
      updateAcceptAll();
    }
  }

  function markDecided(entry) {
    const { it } = entry;
    it.decided = entry;
    closeOverride(it, false);
    it.ui.actions.hidden = true;
    const change = h("button", { type: "button", class: "btn btn-small btn-quiet", "aria-label": `Change the decision on ${it.title}` }, "Change");
    change.addEventListener("click", () => {
      it.ui.result.hidden = true;
      it.ui.actions.hidden = false;
      it.decided = null;
      it.row.classList.remove("decided", "accepted", "overridden", "rejected");
      updateAcceptAll();
      it.ui.accept.focus();
    });
    clear(it.ui.result);
    it.ui.result.append(
      h("span", { class: `decision-badge ${entry.decision}`, "data-decision": entry.decision, text: decisionWords(entry) }),
      h("span", { class: "stored", text: "✓ stored" }), change);
    it.ui.result.hidden = false;
    it.row.classList.remove("accepted", "overridden", "rejected");
    it.row.classList.add("decided", entry.decision);
    if (document.activeElement === document.body || !document.activeElement || it.ui.box.contains(document.activeElement) || document.activeElement.closest("[hidden]")) {
      change.focus();
    }
  }

  function openCodes() {
    return [...state.items.values()].filter((it) => it.kind === "code" && !it.decided);
  }
  function updateAcceptAll() {
    const n = openCodes().length;
    el.acceptAll.hidden = !state.auditId || n === 0;
    el.acceptAll.textContent = `Accept all open codes (${n})`;
  }

  // ---------- queries, warnings, lesions, alternatives ----------
  function showInNoteButton(it) {
    const b = h("button", { type: "button", class: "btn btn-link", "aria-pressed": "false", "data-key": it.key }, "Show in note");
    b.addEventListener("click", () => select(it.key));
    it.toggle = b;
    return b;
  }

  function renderIssues(result) {
    const queries = result.queries || [], warnings = result.warnings || [];
    queries.forEach((q, i) => {
      const it = { key: `q-${i}`, kind: "query", title: "Question", evidence: q.evidence || [], colour: "cq" };
      register(it);
      const li = h("li", { class: "issue query cq" },
        h("span", { class: "tag tag-query", text: "Ask the provider" }),
        h("div", { class: "issue-body" },
          h("p", { class: "issue-msg", text: q.message }),
          h("p", { class: "issue-fact muted", text: `Missing or unclear: ${FACT_WORDS[q.fact] || words(q.fact)}` })),
        it.evidence.length ? showInNoteButton(it) : null);
      it.row = li;
      el.issues.append(li);
    });
    warnings.forEach((w, i) => {
      const it = { key: `w-${i}`, kind: "warning", title: "Warning", evidence: w.evidence || [], colour: "cq" };
      register(it);
      const m = /^([A-Z]{1,4}-\d+):\s*(.*)$/s.exec(w.message || "");
      const li = h("li", { class: "issue warning cq" },
        h("span", { class: "tag tag-warning", text: WARNING_WORDS[w.code] || words(w.code) || "Warning" }),
        h("div", { class: "issue-body" },
          h("p", { class: "issue-msg", text: m ? m[2] : w.message }),
          m ? h("p", { class: "issue-fact muted", text: `Rule ${m[1]}` }) : null),
        it.evidence.length ? showInNoteButton(it) : null);
      it.row = li;
      el.issues.append(li);
    });
    el.issuesBlock.hidden = !(queries.length || warnings.length);
  }

  function renderLesions(frames) {
    frames.forEach((f, i) => {
      const it = { key: `lesion-${i}`, kind: "lesion", title: `Lesion ${f.label || i + 1}`, evidence: f.evidence || [], colour: "cl" };
      register(it);
      const where = [f.laterality, f.site].filter(Boolean).map(words).join(" ");
      const histology = f.histology ? (HISTOLOGY_WORDS[f.histology] || words(f.histology)) : null;
      const summary = [where || "site not stated", histology && `${histology}${f.histology_source ? ` (${f.histology_source})` : ""}`, f.procedure && words(f.procedure)]
        .filter(Boolean).join(" · ");
      const facts = h("dl", { class: "lesion-facts" });
      const add = (term, ...value) => facts.append(h("div", {}, h("dt", { text: term }), h("dd", {}, ...value)));

      const lesion = cm(f.lesion_size_cm), margin = cm(f.narrowest_margin_cm), excised = cm(f.excised_diameter_cm);
      if (lesion && margin && excised) {
        add("Excised diameter", h("span", { class: "arith" },
          h("span", { class: "num", text: lesion }), " lesion + 2 × ", h("span", { class: "num", text: margin }),
          " margin = ", h("strong", { class: "num", text: excised })));
      } else if (f.excised_diameter_arithmetic) {
        add("Excised diameter", h("span", { class: "arith", text: f.excised_diameter_arithmetic }));
      } else if (lesion) {
        add("Lesion size", h("span", { class: "num", text: lesion }), margin ? null : h("span", { class: "muted", text: " (no margin documented)" }));
      }
      if (Array.isArray(f.margins_cm) && f.margins_cm.length > 1) add("Margins", f.margins_cm.map(cm).join(", "), " (narrowest used)");
      if (f.repair_type || f.repair_length_cm) {
        add("Repair", [f.repair_type && words(f.repair_type), cm(f.repair_length_cm)].filter(Boolean).join(", "));
      }
      if (typeof f.area_sq_cm === "number") add("Area", `${Number(f.area_sq_cm.toFixed(2))} sq cm`);
      if (Array.isArray(f.mohs_stages) && f.mohs_stages.length) {
        add("Mohs stages", f.mohs_stages.map((b, s) => `stage ${s + 1}: ${b} ${b === 1 ? "block" : "blocks"}`).join("; "));
      }
      if (typeof f.count === "number") add("Count", String(f.count));
      if (Array.isArray(f.context) && f.context.length) add("Context", f.context.map(words).join(", "));

      const li = h("li", { class: "lesion cl" },
        h("div", { class: "lesion-head" }, h("strong", { text: it.title }), h("span", { class: "lesion-summary", text: summary }),
          it.evidence.length ? showInNoteButton(it) : null),
        facts.childNodes.length ? facts : null);
      it.row = li;
      el.lesions.append(li);
    });
    el.lesionsBlock.hidden = !frames.length;
  }

  function renderAlternatives(alts) {
    el.altCount.textContent = `(${alts.length})`;
    for (const a of alts) {
      el.alternatives.append(h("li", {},
        h("span", { class: "alt-code", text: `${a.system === "CPT" ? "CPT" : "ICD"} ${a.code}${a.units && a.units > 1 ? ` × ${a.units}` : ""}` }),
        h("span", { class: "pct", text: pct(a.confidence) }),
        h("span", { class: "muted", text: a.rationale || "" })));
    }
    el.altBlock.hidden = !alts.length;
  }

  // ---------- note input ----------
  function openFile() {
    hideError();
    const file = el.noteFile.files && el.noteFile.files[0];
    if (!file) return;
    if (file.size > 5 * 1024 * 1024) {
      showError("That file is larger than 5 MB; a procedure note is a few kilobytes. Choose the note's .txt file.");
      el.noteFile.value = "";
      return;
    }
    const reader = new FileReader();
    reader.onload = () => {
      const text = String(reader.result || "");
      el.noteFile.value = "";
      if (text.includes("\u0000")) {
        showError("That file is not plain text. Save the note as a .txt file (UTF-8) and open it again.");
        return;
      }
      el.noteText.value = text;
      showEditor();
      announce("Note loaded from the file. Press “Suggest codes” to code it.");
    };
    reader.onerror = () => {
      el.noteFile.value = "";
      showError("The file could not be read. Check that it is a .txt file you can open.");
    };
    reader.readAsText(file, "utf-8");
  }

  el.suggest.addEventListener("click", suggest);
  el.noteText.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); suggest(); }
  });
  el.noteFile.addEventListener("change", openFile);
  el.editNote.addEventListener("click", () => { el.noteText.value = state.text; showEditor(); });
  el.showAll.addEventListener("change", () => renderNote());
  el.acceptAll.addEventListener("click", () => decide(openCodes().map((it) => ({ it, decision: "accepted" }))));
  // The file button is a <label>: make Enter/Space open the picker like a real button.
  const fileLabel = document.querySelector("label.file-btn");
  fileLabel.tabIndex = 0;
  fileLabel.setAttribute("role", "button");
  fileLabel.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); el.noteFile.click(); }
  });
})();
