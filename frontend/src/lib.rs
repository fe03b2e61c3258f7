//! The wasm entry point and nothing else: `hydrate()` attaches the client-side reactive
//! system to the HTML the server rendered. All UI code lives in `berth-app`.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(berth_app::App);
}
