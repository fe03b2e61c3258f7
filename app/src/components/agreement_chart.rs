//! How often Berth's predictions agreed with what the cluster did, per connection and reason:
//! one stacked bar each (agrees, differs, could not be predicted, not yet predicted), as an
//! inline SVG drawn on the server (no script, sizes as attributes, colours as classes: the
//! CSP has nothing to refuse), with the same figures as a table for screen readers and
//! copying.

use leptos::prelude::*;

use crate::types::AgreementView;

/// The chart's coordinate system (it scales to its box's width).
const WIDTH: usize = 640;
const LABEL: usize = 190;
const ROW: usize = 26;
const BAR: usize = 14;
/// Room after the bar for the rate.
const FIGURE: usize = 70;

/// The four parts of a bar, in order, with their class and what they are called.
const PARTS: [(&str, &str); 4] = [
    ("agreement-agrees", "agrees"),
    ("agreement-differs", "differs"),
    ("agreement-unpredicted", "could not be predicted"),
    ("agreement-pending", "not predicted yet"),
];

/// The length of each part of a bar of `counts` when the largest total is `max`; every part
/// that counts something is at least one unit long.
fn lengths(counts: [i64; 4], max: i64) -> [usize; 4] {
    let room = (WIDTH - LABEL - FIGURE) as i64;
    counts.map(|count| {
        if count <= 0 {
            0
        } else {
            ((count * room) / max.max(1)).max(1) as usize
        }
    })
}

/// `84 %` or `—` when nothing was compared.
pub fn rate_text(rate: Option<f64>) -> String {
    rate.map_or_else(
        || "—".to_owned(),
        |rate| format!("{} %", crate::format::percent(rate)),
    )
}

#[component]
pub fn AgreementChart(agreement: Vec<AgreementView>) -> impl IntoView {
    if agreement.is_empty() {
        return view! { <p class="muted" data-test="no-agreement">"No decision recorded in this range."</p> }
            .into_any();
    }
    let counts = |a: &AgreementView| [a.agrees, a.differs, a.unpredicted, a.pending];
    let max = agreement
        .iter()
        .map(|a| counts(a).iter().sum::<i64>())
        .max()
        .unwrap_or(0);
    let height = ROW * agreement.len() + 4;
    let (agrees, compared) = agreement.iter().fold((0, 0), |(agrees, compared), a| {
        (agrees + a.agrees, compared + a.agrees + a.differs)
    });
    let summary = format!(
        "Berth's predictions agreed with the cluster for {agrees} of {compared} compared decisions ({}), per connection and reason.",
        rate_text((compared > 0).then(|| agrees as f64 / compared as f64))
    );
    let bars = agreement
        .iter()
        .enumerate()
        .map(|(index, row)| {
            let top = index * ROW + 4;
            let mut x = LABEL;
            let parts = lengths(counts(row), max)
                .into_iter()
                .zip(PARTS)
                .map(|(length, (class, _))| {
                    let start = x;
                    x += length;
                    view! { <rect class=class x=start y=top width=length height=BAR></rect> }
                })
                .collect_view();
            let label = format!("{} · {}", row.connection, row.reason);
            view! {
                <g data-test="agreement-row" data-connection=row.connection.clone() data-reason=row.reason.clone()
                    data-agrees=row.agrees data-differs=row.differs data-unpredicted=row.unpredicted data-pending=row.pending>
                    <text class="load-label" x="0" y=top + BAR - 2>{label}</text>
                    {parts}
                    <text class="load-figure" x=x + 6 y=top + BAR - 2>{rate_text(row.rate)}</text>
                </g>
            }
        })
        .collect_view();
    let rows = agreement
        .into_iter()
        .map(|row| {
            view! {
                <tr>
                    <td class="mono">{row.connection}</td>
                    <td>{row.reason}</td>
                    <td class="num">{row.agrees}</td>
                    <td class="num">{row.differs}</td>
                    <td class="num">{row.unpredicted}</td>
                    <td class="num">{row.pending}</td>
                    <td class="num">{rate_text(row.rate)}</td>
                </tr>
            }
        })
        .collect_view();
    let legend = PARTS
        .into_iter()
        .map(|(class, name)| {
            view! {
                <span><svg class="swatch" viewBox="0 0 10 10" aria-hidden="true"><rect class=class width="10" height="10"></rect></svg>" "{name}</span>
            }
        })
        .collect_view();
    view! {
        <figure class="load-chart" data-test="agreement-chart">
            <svg class="load-svg" viewBox=format!("0 0 {WIDTH} {height}") role="img" aria-label=summary.clone()>
                {bars}
            </svg>
            <figcaption class="legend small">{legend}</figcaption>
            <details class="small">
                <summary>"As a table"</summary>
                <table class="table compact" data-test="agreement-table">
                    <caption class="muted">{summary}</caption>
                    <thead><tr>
                        <th>"Connection"</th><th>"Reason"</th><th class="num">"Agrees"</th><th class="num">"Differs"</th>
                        <th class="num">"Could not be predicted"</th><th class="num">"Pending"</th><th class="num">"Rate"</th>
                    </tr></thead>
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
    fn the_largest_bar_fills_the_room_and_small_parts_stay_visible() {
        let room = WIDTH - LABEL - FIGURE;
        assert_eq!(lengths([10, 0, 0, 0], 10), [room, 0, 0, 0]);
        assert_eq!(lengths([999, 1, 0, 0], 1000)[1], 1, "one decision is visible");
        assert_eq!(lengths([0, 0, 0, 0], 0), [0, 0, 0, 0]);
    }

    #[test]
    fn a_rate_reads_as_a_percentage() {
        assert_eq!(rate_text(Some(0.8375)), "84 %");
        assert_eq!(rate_text(None), "—");
    }
}
