//! The sandbox's call timeline: per scriptlet call its reason, project, the member it runs
//! on, the request fields, the candidate table, the builtin trace, the log lines and the
//! outcome or the error at its line; then the operations' outcomes.

use leptos::prelude::*;

use crate::types::{CallView, DiagnosticView, OutcomeView, SimulationView};

/// Where a click on an error should move the editor's cursor.
pub type GoTo = Callback<(usize, usize)>;

#[component]
pub fn Timeline(simulation: SimulationView, title: String, go_to: GoTo) -> impl IntoView {
    let SimulationView {
        incus_version,
        profile,
        calls,
        outcomes,
        stopped,
        mode,
    } = simulation;
    let count = calls.len();
    view! {
        <section class="timeline" data-test=format!("timeline-{mode}")>
            <header class="timeline-head">
                <h3>{title}</h3>
                <span class="muted">
                    {format!("Incus {incus_version} ({profile}) · {count} call{}", if count == 1 { "" } else { "s" })}
                </span>
            </header>
            {stopped.map(|stopped| view! { <p class="notice warn">{stopped}</p> })}
            {(count == 0).then(|| view! {
                <p class="muted" data-test="no-calls">"No scriptlet call: Incus places this without asking the scriptlet."</p>
            })}
            <ol class="calls">
                {calls
                    .into_iter()
                    .enumerate()
                    .map(|(index, call)| view! { <Call index call go_to/> })
                    .collect_view()}
            </ol>
            <Outcomes outcomes/>
        </section>
    }
    .into_any()
}

#[component]
fn Call(index: usize, call: CallView, go_to: GoTo) -> impl IntoView {
    let CallView {
        instance,
        reason,
        project,
        runs_on,
        candidates,
        excluded,
        validation_only,
        logs,
        trace,
        target,
        error,
        request,
    } = call;
    let chosen = target.clone();
    let rows = candidates
        .iter()
        .map(|member| {
            let is_chosen = chosen.as_deref() == Some(member.as_str());
            view! {
                <tr class:chosen=is_chosen data-test="candidate-row">
                    <td class="mono">{member.clone()}</td>
                    <td>{if is_chosen { "chosen" } else { "candidate" }}</td>
                    <td class="muted">{is_chosen.then_some("set_target")}</td>
                </tr>
            }
        })
        .collect_view();
    let excluded_rows = excluded
        .into_iter()
        .map(|member| {
            view! {
                <tr class="excluded" data-test="excluded-row">
                    <td class="mono">{member.member}</td>
                    <td>"excluded"</td>
                    <td>{member.reason}</td>
                </tr>
            }
        })
        .collect_view();
    let outcome = match (&error, &target) {
        (Some(_), _) => None,
        (None, Some(target)) if validation_only => {
            Some(format!("validated {target} (Incus keeps its own choice)"))
        }
        (None, Some(target)) => Some(format!("set_target → {target}")),
        (None, None) => Some("no set_target: Incus's own choice applies".to_owned()),
    };
    view! {
        <li class="call" data-test="call">
            <header class="call-head">
                <span class="call-index">{format!("#{}", index + 1)}</span>
                <span class="badge" data-test="call-reason">{reason}</span>
                <span>"project " <strong data-test="call-project">{project}</strong></span>
                <span class="muted">"runs on " {runs_on}</span>
                <span class="muted">{instance}</span>
                {validation_only.then(|| view! { <span class="badge warn" title="Incus ignores this call's choice; it can only veto">"validation only"</span> })}
            </header>
            <details class="request">
                <summary>"Request"</summary>
                <dl class="fields">
                    {request
                        .into_iter()
                        .map(|(field, value)| view! { <dt class="mono">{field}</dt><dd class="mono">{value}</dd> })
                        .collect_view()}
                </dl>
            </details>
            <table class="table candidates" data-test="candidate-table">
                <thead><tr><th>"Member"</th><th>"Candidate?"</th><th>"Why"</th></tr></thead>
                <tbody>{rows}{excluded_rows}</tbody>
            </table>
            {(!trace.is_empty()).then(|| view! {
                <details class="trace" open=true>
                    <summary>{format!("Builtin calls ({})", trace.len())}</summary>
                    <ol class="mono small">
                        {trace
                            .into_iter()
                            .map(|call| view! { <li>{format!("{}({}) → {}", call.builtin, call.arguments, call.result)}</li> })
                            .collect_view()}
                    </ol>
                </details>
            })}
            {(!logs.is_empty()).then(|| view! {
                <ul class="logs mono small" data-test="logs">
                    {logs
                        .into_iter()
                        .map(|line| {
                            let class = format!("log log-{}", line.level);
                            view! { <li class=class><span class="log-level">{line.level}</span>" "{line.message}</li> }
                        })
                        .collect_view()}
                </ul>
            })}
            {outcome.map(|text| view! { <p class="call-outcome" data-test="call-outcome">{text}</p> })}
            {error.map(|error| view! { <DiagnosticLine diagnostic=error go_to/> })}
        </li>
    }
    .into_any()
}

/// A diagnostic; when it has a place, a click moves the editor's cursor there.
#[component]
pub fn DiagnosticLine(diagnostic: DiagnosticView, go_to: GoTo) -> impl IntoView {
    let DiagnosticView {
        severity,
        code,
        message,
        line,
        column,
        rendered,
    } = diagnostic;
    let class = format!("diagnostic {severity}");
    let place = line.map(|line| {
        let column = column.unwrap_or(1);
        view! {
            <button
                type="button"
                class="link mono"
                data-test="diagnostic-place"
                title="Show in the editor"
                on:click=move |_| go_to.run((line, column))
            >
                {format!("line {line}, column {column}")}
            </button>
        }
    });
    view! {
        <div class=class role=if severity == "error" { "alert" } else { "status" } data-test="diagnostic">
            <span class="badge">{severity.clone()}</span>
            {code.map(|code| view! { <span class="mono small">{format!("[{code}]")}</span> })}
            " "
            <span data-test="diagnostic-message">{message}</span>
            " "
            {place}
            {(!rendered.is_empty()).then(|| view! { <pre class="rendered small">{rendered}</pre> })}
        </div>
    }
    .into_any()
}

#[component]
fn Outcomes(outcomes: Vec<OutcomeView>) -> impl IntoView {
    view! {
        <div class="outcomes" data-test="outcomes">
            <h4>"Outcome"</h4>
            <ul>
                {outcomes
                    .into_iter()
                    .map(|outcome| match (outcome.member, outcome.error) {
                        (Some(member), _) => view! {
                            <li class="ok" data-test="outcome-placed">
                                <span class="mono">{outcome.instance}</span>" → "
                                <strong class="mono">{member}</strong>
                                {outcome.project.map(|project| format!(" in project {project}"))}
                            </li>
                        }
                        .into_any(),
                        (None, error) => view! {
                            <li class="crit" data-test="outcome-failed">
                                <span class="mono">{outcome.instance}</span>": "{error.unwrap_or_default()}
                            </li>
                        }
                        .into_any(),
                    })
                    .collect_view()}
            </ul>
        </div>
    }
    .into_any()
}
