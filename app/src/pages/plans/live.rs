//! Following an executing plan: the browser subscribes to `/api/v1/plans/{id}/events`
//! (server-sent events named `plan`, each `data:` the whole plan as JSON; unnamed ones are
//! read the same) and puts every plan it receives
//! into the page's signal, so the moves table updates row by row. The subscription is closed
//! when the plan reaches a final state or the page goes away. Should the stream fail for good,
//! the page asks for the plan every few seconds instead until it is final.
//!
//! On the server (and without JavaScript) this does nothing: the page shows the plan as it was
//! when rendered.

use leptos::prelude::*;

use crate::types::PlanView;

/// Keeps `plan` up to date while it is executing.
pub fn follow(plan: RwSignal<PlanView>) {
    #[cfg(feature = "hydrate")]
    browser::follow(plan);
    #[cfg(not(feature = "hydrate"))]
    let _ = plan;
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    use crate::api::get_plan;
    use crate::pages::plans::is_final;
    use crate::types::PlanView;

    /// How long to wait between two reads when the event stream is not available.
    const POLL_MS: u64 = 2_000;
    /// The name of the stream's events (`event: plan`).
    const EVENT: &str = "plan";

    /// An open subscription and its handlers (kept alive as long as it is open).
    struct Subscription {
        source: EventSource,
        on_message: Closure<dyn FnMut(MessageEvent)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    type Slot = StoredValue<Option<Subscription>, LocalStorage>;

    pub fn follow(plan: RwSignal<PlanView>) {
        let slot: Slot = StoredValue::new_local(None);
        // Set when the page is gone: no more polling.
        let gone = StoredValue::new(false);
        // Set once the stream has failed for good: the page polls from then on.
        let polling = StoredValue::new(false);
        Effect::new(move |_| {
            let (id, executing) = plan.with(|p| (p.id, p.state == "executing"));
            let open = slot.with_value(Option::is_some);
            if executing && !open && !gone.get_value() && !polling.get_value() {
                subscribe(id, plan, slot, gone, polling);
            } else if !executing && open {
                close(slot);
            }
        });
        on_cleanup(move || {
            gone.set_value(true);
            close(slot);
        });
    }

    fn subscribe(
        id: i64,
        plan: RwSignal<PlanView>,
        slot: Slot,
        gone: StoredValue<bool>,
        polling: StoredValue<bool>,
    ) {
        let Ok(source) = EventSource::new(&format!("/api/v1/plans/{id}/events")) else {
            polling.set_value(true);
            poll(id, plan, gone);
            return;
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else {
                return;
            };
            let Ok(received) = crate::json::from_json::<PlanView>(&text) else {
                return;
            };
            let done = is_final(&received.state);
            plan.set(received);
            if done {
                close(slot);
            }
        });
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // The browser retries a dropped stream by itself; one it gave up on is read by
            // polling instead.
            let closed = slot.with_value(|s| {
                s.as_ref()
                    .is_some_and(|s| s.source.ready_state() == EventSource::CLOSED)
            });
            if closed {
                close(slot);
                polling.set_value(true);
                poll(id, plan, gone);
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let _ = source.add_event_listener_with_callback(EVENT, on_message.as_ref().unchecked_ref());
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        slot.set_value(Some(Subscription {
            source,
            on_message,
            _on_error: on_error,
        }));
    }

    /// Closes the subscription, if open. Its handlers are dropped after the current event,
    /// never while one of them runs.
    fn close(slot: Slot) {
        let Some(subscription) = slot.try_update_value(Option::take).flatten() else {
            return;
        };
        subscription.source.set_onmessage(None);
        let _ = subscription
            .source
            .remove_event_listener_with_callback(EVENT, subscription.on_message.as_ref().unchecked_ref());
        subscription.source.set_onerror(None);
        subscription.source.close();
        spawn_local(async move { drop(subscription) });
    }

    /// Reads the plan until it is final (or the page is gone).
    fn poll(id: i64, plan: RwSignal<PlanView>, gone: StoredValue<bool>) {
        set_timeout(
            move || {
                if gone.try_get_value().unwrap_or(true) {
                    return;
                }
                spawn_local(async move {
                    if let Ok(received) = get_plan(id).await {
                        let done = is_final(&received.state);
                        if gone.try_get_value().unwrap_or(true) {
                            return;
                        }
                        plan.set(received);
                        if done {
                            return;
                        }
                    }
                    poll(id, plan, gone);
                });
            },
            std::time::Duration::from_millis(POLL_MS),
        );
    }
}
