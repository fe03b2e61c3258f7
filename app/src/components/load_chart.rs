//! Instances per member before and after something (a plan as previewed, a scriptlet revision
//! replayed): an inline SVG bar chart drawn on the server (no script; sizes are attributes, colours classes, so the page's CSP has
//! nothing to refuse), with the same figures as a table for screen readers and copying.

use leptos::prelude::*;

use crate::types::LoadView;

/// The chart's coordinate system (it scales to the width of its box).
const WIDTH: usize = 640;
const LABEL: usize = 130;
const ROW: usize = 34;
const BAR: usize = 12;
/// Room after the longest bar for its figure.
const FIGURE: usize = 40;

/// One bar's length for `value` when the longest is `max`.
fn length(value: usize, max: usize) -> usize {
    (value * (WIDTH - LABEL - FIGURE)).div_ceil(max.max(1))
}

/// `subject`: what the "after" is after ("the plan"); `empty`: what to say without figures.
#[component]
pub fn LoadChart(
    load: Vec<LoadView>,
    #[prop(into)] subject: String,
    #[prop(into)] empty: String,
) -> impl IntoView {
    if load.is_empty() {
        return view! { <p class="muted" data-test="no-load">{empty}</p> }.into_any();
    }
    let max = load.iter().map(|l| l.before.max(l.after)).max().unwrap_or(0);
    let height = ROW * load.len() + 4;
    let changed = load.iter().filter(|l| l.before != l.after).count();
    let summary = format!(
        "Instances per member before and after {subject}: {changed} of {} members change.",
        load.len()
    );
    let bars = load
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let top = index * ROW + 4;
            let (before, after) = (length(row.before, max), length(row.after, max));
            let class = match row.after.cmp(&row.before) {
                std::cmp::Ordering::Greater => "load-after more",
                std::cmp::Ordering::Less => "load-after fewer",
                std::cmp::Ordering::Equal => "load-after",
            };
            view! {
                <g data-test="load-row" data-member=row.member.clone() data-before=row.before data-after=row.after>
                    <text class="load-label" x="0" y=top + BAR + 4>{row.member.clone()}</text>
                    <rect class="load-before" x=LABEL y=top width=before height=BAR rx="2"></rect>
                    <text class="load-figure" x=LABEL + before + 4 y=top + BAR - 2>{row.before}</text>
                    <rect class=class x=LABEL y=top + BAR + 2 width=after height=BAR rx="2"></rect>
                    <text class="load-figure" x=LABEL + after + 4 y=top + 2 * BAR>{row.after}</text>
                </g>
            }
        })
        .collect_view();
    let rows = load
        .into_iter()
        .map(|row| {
            let delta = row.after as i64 - row.before as i64;
            view! {
                <tr>
                    <td class="mono">{row.member}</td>
                    <td class="num">{row.before}</td>
                    <td class="num">{row.after}</td>
                    <td class="num">{if delta > 0 { format!("+{delta}") } else { delta.to_string() }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <figure class="load-chart" data-test="load-chart">
            <svg class="load-svg" viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-label=summary.clone()>
                {bars}
            </svg>
            <figcaption class="legend small">
                <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class="load-before" width="10" height="10"></rect></svg>" before"</span>
                <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class="load-after" width="10" height="10"></rect></svg>" after"</span>
                <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class="load-after more" width="10" height="10"></rect></svg>" after: more"</span>
                <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class="load-after fewer" width="10" height="10"></rect></svg>" after: fewer"</span>
            </figcaption>
            <details class="small">
                <summary>"As a table"</summary>
                <table class="table compact">
                    <caption class="muted">{summary}</caption>
                    <thead><tr><th>"Member"</th><th class="num">"Before"</th><th class="num">"After"</th><th class="num">"Change"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_bar_fills_the_room_and_zero_is_empty() {
        assert_eq!(length(10, 10), WIDTH - LABEL - FIGURE);
        assert_eq!(length(0, 10), 0);
        assert_eq!(length(0, 0), 0);
        assert!(length(1, 1000) >= 1, "one instance is visible");
    }
}
