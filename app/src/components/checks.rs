//! The editor's golden cases and fuzzer, below the sandbox.
//!
//! Golden cases are JSON, as `berth check --cases` reads them, edited here and run on the
//! sandbox's snapshot; the lines they ran go to the editor's gutter. The fuzzer runs thirty
//! seconds in steps of about two (each step a request that continues the campaign the last
//! one handed back), showing its progress and every failure as it is found: its place (a
//! click moves the cursor there), its call in words, a button that opens the call in the
//! sandbox (the `call` scenario) and one that adds its case to the golden cases. Stop ends
//! the run after the step under way.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::{use_location, use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::{fuzz_scriptlet, run_cases};
use crate::components::lazy_panel::{details_opened, lazy_panel, split_fn};
use crate::components::timeline::GoTo;
use crate::types::{CasesRun, CoverageView, FuzzFailureView, FuzzRound, Scenario};

/// Fuzz requests one run makes, each about two seconds long: thirty seconds in all.
const FUZZ_STEPS: u32 = 15;

/// What the two sections share with the page and with each other: signals, so `Copy`.
#[derive(Clone, Copy)]
struct Shared {
    source: RwSignal<String>,
    scenario: Memo<Scenario>,
    /// The golden cases' JSON as the author edits it; a fuzz failure can add its case.
    cases: RwSignal<String>,
    cases_note: RwSignal<Option<String>>,
    /// Whether the golden cases' section is open (adding a case opens it).
    cases_open: RwSignal<bool>,
    /// Where the lines a run covered go (the editor's gutter).
    coverage: RwSignal<Option<CoverageView>>,
    go_to: GoTo,
}

#[component]
pub fn Checks(
    source: RwSignal<String>,
    scenario: Memo<Scenario>,
    /// Where the lines a run covered go (the editor's gutter).
    coverage: RwSignal<Option<CoverageView>>,
    go_to: GoTo,
) -> impl IntoView {
    // Each section is closed until the author opens it, and its controls are a wasm module of
    // their own, loaded then and kept while the page is (issue 22's weight budget: most visits
    // to the editor do not run them). A fuzz failure added to the golden cases opens theirs.
    let cases_open = RwSignal::new(false);
    let fuzz_open = RwSignal::new(false);
    let shared = Shared {
        source,
        scenario,
        cases: RwSignal::new("[]".to_owned()),
        cases_note: RwSignal::new(None),
        cases_open,
        coverage,
        go_to,
    };
    // Set again at each opening; the panels are made once (a memo changes once, to true).
    let cases_shown = Memo::new(move |_| cases_open.get());
    let fuzz_shown = Memo::new(move |_| fuzz_open.get());
    view! {
        <section class="checks" aria-label="Golden cases and fuzzing" data-test="checks">
            <details class="cases" data-test="cases" prop:open=move || cases_open.get()
                on:toggle=move |ev| if details_opened(&ev) { cases_open.set(true) }>
                <summary>"Golden cases"</summary>
                <p class="muted small">
                    "Each case runs an operation (\"op\") or one placement call (\"call\") on the sandbox's snapshot "
                    "and says what must come of it: a member, an error containing a text, or \"placed\": true. "
                    "The same JSON as "<code>"berth check --cases"</code>" reads."
                </p>
                {move || cases_shown.get().then(|| lazy_panel(move || golden_cases_panel(shared)))}
            </details>
            <details class="fuzz" data-test="fuzz" on:toggle=move |ev| if details_opened(&ev) { fuzz_open.set(true) }>
                <summary>"Fuzz"</summary>
                <p class="muted small">
                    "Placement calls from the snapshot's cluster, steered by the lines and branches they reach, "
                    "for 30 seconds: every reason the versions send, candidate subsets, members offline or evacuated, "
                    "config values present, absent or odd. A failure is an error, a target outside the candidates, or a limit."
                </p>
                {move || fuzz_shown.get().then(|| lazy_panel(move || fuzz_panel(shared)))}
            </details>
        </section>
    }
}

split_fn! {
    /// The golden cases' controls and results: a wasm module of its own (see [`Checks`]).
    fn golden_cases_panel(shared: Shared) -> AnyView, in golden_cases_panel {
        Ok(golden_cases(shared).into_any())
    }
}

split_fn! {
    /// The fuzzer's controls and failures: a wasm module of its own (see [`Checks`]).
    fn fuzz_panel(shared: Shared) -> AnyView, in fuzz_panel {
        Ok(fuzzer(shared).into_any())
    }
}

fn golden_cases(shared: Shared) -> impl IntoView {
    let Shared {
        source,
        scenario,
        cases,
        cases_note,
        coverage,
        ..
    } = shared;
    let result = RwSignal::new(None::<Result<CasesRun, String>>);
    let busy = RwSignal::new(false);
    let run = move |_| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        cases_note.set(None);
        let scenario = scenario.get_untracked();
        spawn_local(async move {
            let answer = run_cases(
                source.get_untracked(),
                scenario.snapshot_id,
                scenario.incus_version.clone(),
                cases.get_untracked(),
            )
            .await
            .map_err(|error| error.to_string());
            if let Ok(run) = &answer {
                coverage.set(run.coverage.clone());
            }
            result.set(Some(answer));
            busy.set(false);
        });
    };
    view! {
        <label class="block">"Cases (JSON)"
            <textarea rows="8" class="mono" spellcheck="false" data-test="cases-json"
                prop:value=move || cases.get()
                on:input=move |ev| cases.set(event_target_value(&ev))></textarea>
        </label>
        {move || cases_note.get().map(|note| view! { <p class="notice" role="status" data-test="cases-note">{note}</p> })}
        <div class="form-row">
            <button type="button" class="button" data-test="cases-run" disabled=move || busy.get() on:click=run>
                {move || if busy.get() { "Running cases…" } else { "Run cases" }}
            </button>
        </div>
        {move || result.get().map(|answer| match answer {
            Err(error) => view! { <p class="notice error" role="alert" data-test="cases-error">{error}</p> }.into_any(),
            Ok(run) => view! { <CasesResult run/> }.into_any(),
        })}
    }
}

#[component]
fn CasesResult(run: CasesRun) -> impl IntoView {
    let all_passed = run.failed == 0;
    view! {
        <p class=if all_passed { "notice ok" } else { "notice error" } role="status" data-test="cases-summary">
            {format!("{} passed, {} failed (Incus {})", run.passed, run.failed, run.incus_version)}
        </p>
        {run.coverage.map(|coverage| view! { <p class="muted small" data-test="cases-coverage">{coverage.summary}</p> })}
        <ul class="case-results" data-test="case-results">
            {run
                .cases
                .into_iter()
                .map(|case| {
                    let verdict = if case.passed { "pass" } else { "FAIL" };
                    view! {
                        <li data-test="case-result" data-passed=case.passed.to_string() class:failed=!case.passed>
                            <strong>{verdict}</strong>" "{case.name}
                            {case.message.map(|message| view! { ": "<span class="mono small">{message}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}

fn fuzzer(shared: Shared) -> impl IntoView {
    let Shared {
        source,
        scenario,
        coverage,
        ..
    } = shared;
    let versions = RwSignal::new(String::new());
    let round = RwSignal::new(None::<FuzzRound>);
    let error = RwSignal::new(None::<String>);
    let step = RwSignal::new(0u32);
    let running = RwSignal::new(false);
    let stop = StoredValue::new(false);
    let state = StoredValue::new(String::new());
    let start = move |_| {
        if running.get_untracked() {
            return;
        }
        running.set(true);
        stop.set_value(false);
        step.set(0);
        error.set(None);
        round.set(None);
        state.set_value(String::new());
        let scenario = scenario.get_untracked();
        let text = source.get_untracked();
        let asked = versions.get_untracked();
        spawn_local(async move {
            for number in 1..=FUZZ_STEPS {
                if stop.get_value() {
                    break;
                }
                match fuzz_scriptlet(
                    text.clone(),
                    scenario.snapshot_id,
                    asked.clone(),
                    state.get_value(),
                )
                .await
                {
                    Ok(answer) => {
                        state.set_value(answer.state.clone());
                        coverage.set(answer.coverage.clone());
                        round.set(Some(answer));
                        step.set(number);
                    }
                    Err(failed) => {
                        error.set(Some(failed.to_string()));
                        break;
                    }
                }
            }
            running.set(false);
        });
    };
    let failures = Signal::derive(move || {
        round.with(|round| round.as_ref().map(|r| r.failures.clone()).unwrap_or_default())
    });
    view! {
        <div class="form-row">
            <label>"Incus versions"
                <input type="text" data-test="fuzz-versions" placeholder="the snapshot's; or 6.0.4,6.6,7.0"
                    prop:value=move || versions.get()
                    on:input=move |ev| versions.set(event_target_value(&ev))/>
            </label>
            <button type="button" class="button primary" data-test="fuzz-start" disabled=move || running.get() on:click=start>
                "Fuzz"
            </button>
            <button type="button" class="button" data-test="fuzz-stop" disabled=move || !running.get()
                on:click=move |_| stop.set_value(true)>
                "Stop"
            </button>
        </div>
        <div class="fuzz-progress" role="status" aria-live="polite" data-test="fuzz-progress"
            data-running=move || running.get().to_string()
            data-failures=move || failures.with(Vec::len).to_string()>
            <progress max=FUZZ_STEPS.to_string() value=move || step.get().to_string() aria-label="Fuzzing"></progress>
            " "
            {move || round.get().map(|round| format!(
                "{} calls in {} rounds ({} calls/s), {} failure{}{}",
                round.calls,
                round.rounds,
                crate::format::whole(round.calls_per_second),
                round.failures.len(),
                if round.failures.len() == 1 { "" } else { "s" },
                if running.get() { "…" } else { "" },
            ))}
        </div>
        {move || error.get().map(|error| view! { <p class="notice error" role="alert" data-test="fuzz-error">{error}</p> })}
        <ol class="fuzz-failures" data-test="fuzz-failures">
            <For each=move || failures.get() key=|failure| failure.number let:failure>
                <FuzzFailure failure shared/>
            </For>
        </ol>
    }
}

#[component]
fn FuzzFailure(failure: FuzzFailureView, shared: Shared) -> impl IntoView {
    let Shared {
        cases,
        cases_note,
        cases_open,
        go_to,
        ..
    } = shared;
    let query = use_query_map();
    let location = use_location();
    let navigate = use_navigate();
    let call = failure.call.clone();
    let version = failure.incus_version.clone();
    let open = move |_| {
        let mut params = query.get_untracked();
        params.insert("call", call.clone());
        if let Some(version) = &version {
            params.insert("version", version.clone());
        }
        navigate(
            &format!(
                "{}{}",
                location.pathname.get_untracked(),
                params.to_query_string()
            ),
            NavigateOptions::default(),
        );
    };
    let case = failure.case.clone();
    let number = failure.number;
    let add = move |_| {
        cases.update(|text| *text = with_case(text, &case));
        cases_open.set(true);
        cases_note.set(Some(format!(
            "Failure {number} added to the golden cases: run them to see it fail, fix the scriptlet, run them again."
        )));
    };
    let place = failure.line.map(|line| (line, failure.column.unwrap_or(1)));
    view! {
        <li class="fuzz-failure" data-test="fuzz-failure" data-kind=failure.kind.clone()>
            <strong>{failure.kind.replace('_', " ")}</strong>
            {place.map(|(line, column)| view! {
                " "<button type="button" class="link" data-test="fuzz-line"
                    on:click=move |_| go_to.run((line, column))>{format!("line {line}")}</button>
            })}
            ": "<span class="mono small">{failure.message.clone()}</span>
            <div class="muted small">{format!("{}; found after {} calls", failure.summary, failure.after_calls)}</div>
            <div class="form-row">
                <button type="button" class="button small" data-test="fuzz-open" on:click=open>"Open in the sandbox"</button>
                <button type="button" class="button small" data-test="fuzz-add" on:click=add>"Add to golden cases"</button>
            </div>
        </li>
    }
}

/// `cases` (a JSON list, as the author edits it) with `case` appended, the author's text kept
/// as it was; a text that is not a list gets the case on a list of its own after it.
fn with_case(cases: &str, case: &str) -> String {
    let trimmed = cases.trim_end();
    let case = case.trim();
    match trimmed.strip_suffix(']') {
        Some(head) if head.trim() == "[" => format!("[\n{case}\n]\n"),
        Some(head) if head.trim_start().starts_with('[') => format!("{},\n{case}\n]\n", head.trim_end()),
        _ => format!("{trimmed}\n[\n{case}\n]\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_case;

    #[test]
    fn a_case_is_appended_to_the_list_as_written() {
        assert_eq!(with_case("[]", "{\"name\":\"a\"}"), "[\n{\"name\":\"a\"}\n]\n");
        assert_eq!(
            with_case("[\n  {\"name\": \"mine\"}\n]\n", "{\"name\":\"b\"}"),
            "[\n  {\"name\": \"mine\"},\n{\"name\":\"b\"}\n]\n"
        );
    }
}
