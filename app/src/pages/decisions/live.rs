//! Following the decision log live: the browser subscribes to `/api/v1/decisions/events`
//! with the page's filters (server-sent events named `decision`, each `data:` one decision as
//! JSON) and puts each into the page's list: a new one at the top, a changed one (predicted
//! since) in its place. The status says whether the page is live. On the server (and without
//! JavaScript) this does nothing: the page shows the log as it was when rendered.

use leptos::prelude::*;

use crate::types::LoggedDecision;

/// Keeps `decisions` up to date with the log (`query`: the filters as a query string), at most
/// `keep` of them; `status` says how.
pub fn follow(
    query: String,
    decisions: RwSignal<Vec<LoggedDecision>>,
    status: RwSignal<String>,
    keep: usize,
) {
    #[cfg(feature = "hydrate")]
    browser::follow(query, decisions, status, keep);
    #[cfg(not(feature = "hydrate"))]
    let _ = (query, decisions, status, keep);
}

/// Puts `received` into `list` (newest first): in place of the one with its id, else in time
/// order; at most `keep`.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn merge(list: &mut Vec<LoggedDecision>, received: LoggedDecision, keep: usize) {
    if let Some(known) = list.iter_mut().find(|d| d.id == received.id) {
        *known = received;
        return;
    }
    let at = list
        .iter()
        .position(|d| (d.time.as_str(), d.id) < (received.time.as_str(), received.id))
        .unwrap_or(list.len());
    list.insert(at, received);
    list.truncate(keep);
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use crate::types::LoggedDecision;

    /// The name of the stream's events (`event: decision`).
    const EVENT: &str = "decision";

    struct Subscription {
        source: EventSource,
        _on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_open: Closure<dyn FnMut(web_sys::Event)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    pub fn follow(
        query: String,
        decisions: RwSignal<Vec<LoggedDecision>>,
        status: RwSignal<String>,
        keep: usize,
    ) {
        let Ok(source) = EventSource::new(&format!("/api/v1/decisions/events{query}")) else {
            status.set("not live: the browser refused the event stream".into());
            return;
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            if let Ok(received) = crate::json::from_json::<LoggedDecision>(&text) {
                decisions.update(|list| super::merge(list, received, keep));
            }
        });
        let on_open =
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| status.set("live".into()));
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // The browser reconnects by itself; until then the page is not live.
            status.set("reconnecting…".into());
        });
        let _ = source.add_event_listener_with_callback(EVENT, on_message.as_ref().unchecked_ref());
        source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let subscription = StoredValue::new_local(Some(Subscription {
            source,
            _on_message: on_message,
            _on_open: on_open,
            _on_error: on_error,
        }));
        on_cleanup(move || {
            if let Some(subscription) = subscription.try_update_value(Option::take).flatten() {
                subscription.source.close();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(id: i64, time: &str) -> LoggedDecision {
        LoggedDecision {
            id,
            time: time.into(),
            connection: "lab".into(),
            project: "default".into(),
            instance: format!("i{id}"),
            reason: "new".into(),
            member: None,
            logs: Vec::new(),
            revision: None,
            predicted: None,
            agrees: None,
            outcome: "pending".into(),
            operation: "instance-created".into(),
            seen_later: false,
            from_project: None,
            from_member: None,
            runs_on: None,
            sandbox: None,
        }
    }

    #[test]
    fn a_new_decision_goes_on_top_and_a_predicted_one_in_its_place() {
        let mut list = vec![
            decision(2, "2026-12-05T10:00:02.000Z"),
            decision(1, "2026-12-05T10:00:01.000Z"),
        ];
        merge(&mut list, decision(3, "2026-12-05T10:00:03.000Z"), 10);
        assert_eq!(list.iter().map(|d| d.id).collect::<Vec<_>>(), [3, 2, 1]);
        let mut predicted = decision(2, "2026-12-05T10:00:02.000Z");
        predicted.outcome = "agrees".into();
        merge(&mut list, predicted, 10);
        assert_eq!(list[1].outcome, "agrees");
        assert_eq!(list.len(), 3);
        merge(&mut list, decision(4, "2026-12-05T10:00:04.000Z"), 3);
        assert_eq!(
            list.iter().map(|d| d.id).collect::<Vec<_>>(),
            [4, 3, 2],
            "at most `keep`"
        );
    }
}
