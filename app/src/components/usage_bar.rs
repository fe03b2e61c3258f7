//! A labelled horizontal meter for CPU, memory or disk use.

use leptos::prelude::*;

use crate::format::percent;

/// `fraction` in 0–1, or `None` when there is nothing to show (member unreachable).
#[component]
pub fn UsageBar(label: &'static str, fraction: Option<f64>, detail: String) -> impl IntoView {
    match fraction {
        Some(fraction) => {
            let pct = percent(fraction);
            let level = if pct >= 90 {
                "crit"
            } else if pct >= 70 {
                "warn"
            } else {
                "ok"
            };
            view! {
                <div class="usage">
                    <div class="usage-head">
                        <span class="usage-label">{label}</span>
                        <span class="usage-detail">{detail.clone()}</span>
                    </div>
                    <div
                        class=format!("usage-track {level}")
                        role="meter"
                        aria-label=label
                        aria-valuemin="0"
                        aria-valuemax="100"
                        aria-valuenow=pct
                        aria-valuetext=format!("{pct}%: {detail}")
                    >
                        // An SVG bar: its width is an attribute, not an inline style, which the
                        // Content-Security-Policy (style-src 'self') would block.
                        <svg class="usage-svg" aria-hidden="true" preserveAspectRatio="none">
                            <rect class="usage-fill" height="100%" width=format!("{pct}%")></rect>
                        </svg>
                    </div>
                </div>
            }
            .into_any()
        }
        None => view! {
            <div class="usage">
                <div class="usage-head">
                    <span class="usage-label">{label}</span>
                    <span class="usage-detail muted">"no data"</span>
                </div>
                <div class="usage-track empty"></div>
            </div>
        }
        .into_any(),
    }
}
