//! The wasm entry point and nothing else: `hydrate()` attaches the client-side reactive
//! system to the HTML the server rendered. All UI code lives in `berth-app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Lazy: the pages are lazy routes (split wasm modules), so hydration waits for the
    // current page's module before it walks the page's HTML.
    leptos::mount::hydrate_lazy(berth_app::App);
}
