//! The editor's Matrix tab: the scriptlet's reason × version matrix on the sandbox's snapshot,
//! a table of situations (rows) × versions (columns), each cell listing its calls with what
//! the scriptlet did (failing ones in red and in words: never colour alone), cells unlike the
//! other versions of their situation marked, the lints drawn from the whole, and each row's
//! instance changeable.
//!
//! Its state is in the URL beside the sandbox's (`tab=matrix`, `versions=6.0.4,6.6,7.0`,
//! `pick-SITUATION=PROJECT/NAME`, and `mrun=N`, which each Run increments so that a run of the
//! same matrix after an edit is a new URL): a GET form, so a link shows the same matrix and
//! the form works without JavaScript. The matrix runs with the editor's current text.

use leptos::prelude::*;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};
use leptos_router::params::ParamsMap;

use crate::api::run_matrix;
use crate::components::error_notice::ErrorNotice;
use crate::components::lazy_panel::split_fn;
use crate::components::timeline::GoTo;
use crate::resource::page_resource;
use crate::types::{CoverageView, MatrixCallView, MatrixCellView, MatrixQuery, MatrixView};

/// The URL parameters the Matrix tab owns; the form carries every other one through.
const OWN: [&str; 3] = ["tab", "versions", "mrun"];
/// `pick-SITUATION`: the instance a row is shown with.
const PICK: &str = "pick-";

/// The tab's query (the snapshot is the sandbox's) and the run counter.
fn request_of(query: &ParamsMap) -> (MatrixQuery, u64) {
    let picks = query
        .clone()
        .into_iter()
        .filter_map(|(key, value)| {
            let situation = key.strip_prefix(PICK)?;
            (!value.trim().is_empty()).then(|| format!("{situation}={}", value.trim()))
        })
        .collect::<Vec<_>>()
        .join("\n");
    let request = MatrixQuery {
        snapshot_id: query.get("snapshot").and_then(|id| id.parse().ok()),
        versions: query.get("versions").unwrap_or_default(),
        picks,
    };
    let run = query.get("mrun").and_then(|n| n.parse().ok()).unwrap_or(0);
    (request, run)
}

/// The sandbox's URL with the Matrix tab's own parameters removed.
fn others(query: &ParamsMap) -> ParamsMap {
    query
        .clone()
        .into_iter()
        .filter(|(key, _)| !OWN.contains(&key.as_ref()) && !key.starts_with(PICK))
        .collect()
}

/// The sandbox's two tabs, as links (so the tab is in the URL and works without JavaScript):
/// the scenario and the matrix.
#[component]
pub fn SandboxTabs(matrix: Signal<bool>) -> impl IntoView {
    let query = use_query_map();
    let location = use_location();
    let href = move |to_matrix: bool| {
        let mut params = query.get();
        if to_matrix {
            params.replace("tab", "matrix".into());
        } else {
            params.remove("tab");
        }
        format!("{}{}", location.pathname.get(), params.to_query_string())
    };
    view! {
        <nav class="tabs" role="tablist" aria-label="Sandbox">
            <a role="tab" id="tab-scenario" href=move || href(false) aria-controls="sandbox-scenario"
                aria-selected=move || (!matrix.get()).to_string() data-test="tab-scenario">"Scenario"</a>
            <a role="tab" id="tab-matrix" href=move || href(true) aria-controls="sandbox-matrix"
                aria-selected=move || matrix.get().to_string() data-test="tab-matrix">"Matrix"</a>
        </nav>
    }
}

split_fn! {
    /// The Matrix tab's panel, a wasm module of its own: the editor page loads it when the tab
    /// opens, not with the page (issue 22's weight budget), and a page opened on the tab loads it
    /// before hydrating ([`load_if_opened_on_tab`]). The server renders it in place.
    pub fn matrix_panel(source: RwSignal<String>, go_to: GoTo, coverage: RwSignal<Option<CoverageView>>) -> AnyView,
    in matrix_panel, preload preload_matrix_panel
    {
        Ok(view! { <MatrixTab source go_to coverage/> }.into_any())
    }
}

/// For the editor's routes, before the page hydrates: the panel's module when the page opens on
/// the tab, since its HTML is then in the page and hydration needs its code at once (should it
/// not load, hydration fails, as it does when the page's own module does not).
pub async fn load_if_opened_on_tab() {
    #[cfg(feature = "hydrate")]
    {
        let search = window().location().search().unwrap_or_default();
        let tab = web_sys::UrlSearchParams::new_with_str(&search)
            .ok()
            .and_then(|params| params.get("tab"));
        if tab.as_deref() == Some("matrix") {
            _ = preload_matrix_panel().await;
        }
    }
}

#[component]
fn MatrixTab(
    source: RwSignal<String>,
    go_to: GoTo,
    /// Where the lines the matrix ran go (the editor's gutter).
    coverage: RwSignal<Option<CoverageView>>,
) -> impl IntoView {
    let query = use_query_map();
    let request = Memo::new(move |_| request_of(&query.read()));
    let result = page_resource(
        move || request.get(),
        move |(request, _)| async move { run_matrix(source.get_untracked(), request).await },
    );
    Effect::new(move |_| {
        if let Some(Ok(matrix)) = result.get() {
            coverage.set(matrix.coverage);
        }
    });
    let carried = move || {
        others(&query.read())
            .into_iter()
            .map(|(key, value)| view! { <input type="hidden" name=key.into_owned() value=value/> })
            .collect_view()
    };
    let next_run = move || (request.with(|(_, run)| *run) + 1).to_string();
    view! {
        <div class="matrix-tab" data-test="matrix">
            <Form method="GET" action="" attr:id="matrix-form" attr:class="scenario form" attr:data-test="matrix-form">
                {carried}
                <input type="hidden" name="tab" value="matrix"/>
                <input type="hidden" name="mrun" value=next_run/>
                <p class="muted small">
                    "Every situation that calls the scriptlet, on each Incus version: the calls Incus makes "
                    "with the instance of the row, and what the scriptlet does with each."
                </p>
                <div class="form-row">
                    <label class="grow">"Incus versions"
                        <input type="text" name="versions" data-test="matrix-versions"
                            value=move || request.with(|(request, _)| request.versions.clone())
                            placeholder="the snapshot's, 6.6, 7.0 — or e.g. 6.0.4,6.6,7.0"/>
                    </label>
                    <button type="submit" class="button primary" data-test="matrix-run">"Run matrix"</button>
                </div>
            </Form>
            <Transition fallback=|| view! { <p class="loading">"Running the matrix…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorNotice errors/> }>
                    {move || Suspend::new(async move {
                        result.await.map(|matrix| view! { <MatrixResult matrix go_to/> })
                    })}
                </ErrorBoundary>
            </Transition>
        </div>
    }
}

#[component]
fn MatrixResult(matrix: MatrixView, go_to: GoTo) -> impl IntoView {
    let query = use_query_map();
    let MatrixView {
        versions,
        cells,
        lints,
        skipped,
        coverage,
    } = matrix;
    let mut situations: Vec<String> = Vec::new();
    for cell in &cells {
        if !situations.contains(&cell.situation) {
            situations.push(cell.situation.clone());
        }
    }
    let linted = |cell: &MatrixCellView| {
        lints
            .iter()
            .any(|lint| lint.versions.contains(&cell.version) && lint.situations.contains(&cell.situation))
    };
    let failing = cells.iter().filter(|cell| cell.fails()).count();
    let differing = cells.iter().filter(|cell| cell.differs).count();
    let summary = format!(
        "{} cells on Incus {}: {failing} failing, {differing} unlike the other versions, {} lints",
        cells.len(),
        versions.join(", "),
        lints.len()
    );
    let header = versions
        .iter()
        .map(|version| view! { <th scope="col" class="mono">{version.clone()}</th> })
        .collect_view();
    let rows = situations
        .into_iter()
        .map(|situation| {
            let row: Vec<&MatrixCellView> = cells.iter().filter(|cell| cell.situation == situation).collect();
            let instance = row.first().map(|cell| cell.instance.clone()).unwrap_or_default();
            let columns = versions
                .iter()
                .map(|version| match row.iter().find(|cell| &cell.version == version) {
                    Some(cell) => {
                        let sandbox = sandbox_link(&query.read_untracked(), cell);
                        let linted = linted(cell);
                        view! { <Cell cell=(*cell).clone() linted sandbox go_to/> }.into_any()
                    }
                    None => view! {
                        <td class="matrix-cell absent" data-test="matrix-absent">
                            <span class="muted small">"not in this version"</span>
                        </td>
                    }
                    .into_any(),
                })
                .collect_view();
            let input_id = format!("matrix-pick-{situation}");
            view! {
                <tr data-test="matrix-row" data-situation=situation.clone()>
                    <th scope="row" class="matrix-situation">
                        <label for=input_id.clone() class="mono">{situation.clone()}</label>
                        <input type="search" id=input_id form="matrix-form" name=format!("{PICK}{situation}")
                            value=instance list="sandbox-instances" class="small" data-test="matrix-pick"
                            aria-label=format!("Instance for {situation}")/>
                    </th>
                    {columns}
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="matrix-result" data-test="matrix-result">
            {coverage.map(|coverage| view! { <p class="muted small" data-test="matrix-coverage">{coverage.summary}</p> })}
            <p class="small" role="status" data-test="matrix-summary">{summary}</p>
            {(!lints.is_empty()).then(|| view! {
                <div class="notice warn" data-test="matrix-lints">
                    <h2 class="small">"Lints"</h2>
                    <ul>
                        {lints
                            .into_iter()
                            .map(|lint| view! {
                                <li data-test="matrix-lint" data-code=lint.code.clone()>
                                    <span class="mono">{format!("[{}]", lint.code)}</span>" "
                                    <span class="small muted">{format!("{} · {}", lint.versions.join(", "), lint.situations.join(", "))}</span>" "
                                    {lint.message}
                                </li>
                            })
                            .collect_view()}
                    </ul>
                </div>
            })}
            <div class="scroll-table" tabindex="0" role="region" aria-label="Matrix: situations × Incus versions">
                <table class="table matrix" data-test="matrix-table">
                    <caption class="small muted">
                        "Rows: situations, with the instance each is shown with (change it and run again). "
                        "Columns: Incus versions. ✗ marks a failing call, ≠ a cell unlike most versions of its row, ⚠ a cell a lint names."
                    </caption>
                    <thead><tr><th scope="col">"Situation · instance"</th>{header}</tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
            {(!skipped.is_empty()).then(|| view! {
                <ul class="small muted" data-test="matrix-skipped">
                    {skipped
                        .into_iter()
                        .map(|s| view! { <li>{format!("{} left out: {}", s.situation, s.reason)}</li> })
                        .collect_view()}
                </ul>
            })}
        </div>
    }
}

/// The sandbox's scenario tab on the cell's operations and version.
fn sandbox_link(query: &ParamsMap, cell: &MatrixCellView) -> String {
    let mut params = others(query);
    for key in [
        "kind",
        "project",
        "name",
        "instance",
        "target_project",
        "target",
        "member",
    ] {
        params.remove(key);
    }
    params.insert("version", cell.version.clone());
    params.insert("ops", cell.operations.clone());
    params.to_query_string()
}

#[component]
fn Cell(cell: MatrixCellView, linted: bool, sandbox: String, go_to: GoTo) -> impl IntoView {
    let fails = cell.fails();
    let MatrixCellView {
        version,
        situation,
        calls,
        differs,
        placed,
        failed,
        refused,
        stopped,
        ..
    } = cell;
    let verdict = if fails { "fails" } else { "ok" };
    let calls_view = if let Some(refused) = refused {
        view! { <p class="matrix-refused" data-test="matrix-refused">"✗ refused when set: "{refused}</p> }
            .into_any()
    } else if calls.is_empty() {
        view! { <p class="muted small">"no scriptlet call"</p> }.into_any()
    } else {
        // An evacuation places the instances before the row's first: their calls folded away,
        // open when one of them fails (it stopped the evacuation).
        let (before, own): (Vec<MatrixCallView>, Vec<MatrixCallView>) =
            calls.into_iter().partition(|call| call.instance.is_some());
        let earlier = (!before.is_empty()).then(|| {
            let failing = before.iter().filter(|call| call.fails()).count();
            let summary = match failing {
                0 => format!("{} calls for the instances evacuated before it", before.len()),
                n => format!(
                    "{} calls for the instances evacuated before it, {n} failing",
                    before.len()
                ),
            };
            view! {
                <details class="small" open={failing > 0} data-test="matrix-earlier">
                    <summary>{summary}</summary>
                    <ol class="matrix-calls">
                        {before.into_iter().map(|call| view! { <Call call go_to/> }).collect_view()}
                    </ol>
                </details>
            }
        });
        view! {
            {earlier}
            <ol class="matrix-calls">
                {own.into_iter().map(|call| view! { <Call call go_to/> }).collect_view()}
            </ol>
        }
        .into_any()
    };
    let end = match (placed, failed) {
        (Some(member), _) => Some(format!("→ {member}")),
        (None, Some(error)) => Some(format!("→ Incus fails: {error}")),
        (None, None) => None,
    };
    view! {
        <td class="matrix-cell" class:fails=fails class:differs=differs data-test="matrix-cell"
            data-version=version.clone() data-situation=situation.clone() data-outcome=verdict>
            {(fails || differs || linted).then(|| view! {
                <p class="matrix-marks small">
                    {fails.then(|| view! { <span class="badge crit">"✗ fails"</span> })}
                    {differs.then(|| view! { <span class="badge warn" title="Unlike most versions of this situation">"≠ differs"</span> })}
                    {linted.then(|| view! { <span class="badge warn" title="A lint above names this cell">"⚠ lint"</span> })}
                </p>
            })}
            {calls_view}
            {stopped.map(|stopped| view! { <p class="small crit">"✗ stopped: "{stopped}</p> })}
            {end.map(|end| view! { <p class="small muted matrix-end">{end}</p> })}
            <a class="small" href=sandbox data-test="matrix-open"
                aria-label=format!("open in sandbox: {situation} on {version}")>"open in sandbox"</a>
        </td>
    }
}

#[component]
fn Call(call: MatrixCallView, go_to: GoTo) -> impl IntoView {
    let fails = call.fails();
    let MatrixCallView {
        instance,
        reason,
        project,
        candidates,
        outcome,
        member,
        error,
        line,
        validation_only,
        note,
    } = call;
    let said = match outcome.as_str() {
        "member" => "sets a candidate",
        "no_target" => "sets no target",
        "error" => "raises",
        "non_candidate" => "sets a member that is not a candidate",
        "limit" => "hits a limit",
        other => other,
    }
    .to_owned();
    let candidates = match candidates {
        1 => "1 candidate".to_owned(),
        n => format!("{n} candidates"),
    };
    let place = line.map(|line| {
        view! {
            <button type="button" class="link small" title="Show in the editor" on:click=move |_| go_to.run((line, 1))>
                {format!("line {line}")}
            </button>
        }
    });
    view! {
        <li class="matrix-call" class:fails=fails data-test="matrix-call" data-outcome=outcome.clone()>
            {instance.map(|instance| view! { <span class="mono small">{instance}": "</span> })}
            <span class="mono">{reason}</span>" → "<span class="mono">{project}</span>
            <span class="small muted" title=validation_only.then_some("Incus ignores the choice: the member is fixed, the call can only veto")>
                {format!(" · {candidates}")}{validation_only.then_some(" · validation only")}
            </span>
            <br/>
            <strong>{if fails { "✗ " } else { "✓ " }}{said}</strong>
            {member.map(|member| view! { " "<span class="mono">{member}</span> })}
            {error.map(|error| view! { <span class="small">": "{error}" "</span> })}
            {place}
            {note.map(|note| view! { <span class="small muted">" ("{note}")"</span> })}
        </li>
    }
}
