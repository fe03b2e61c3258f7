//! The scriptlet editor: CodeMirror 6 (bundled from npm into `/pkg/editor.js`, see `editor/`)
//! bound through wasm-bindgen.
//!
//! On the server, and in a browser before the wasm has loaded, the editor is the scriptlet in a
//! `<pre>`: the page reads without JavaScript. Once hydrated, CodeMirror replaces it; the page
//! hands it diagnostics (as lint markers), the lines a run covered (a gutter of run and
//! never-run lines), the completion schema and cursor moves, and hears of every change through
//! `on_change`.

use leptos::prelude::*;

use crate::types::{CoverageView, DiagnosticView};

/// Where the page asks the editor to put the cursor: 1-based line and column. `seq` makes
/// two requests for the same place distinct (a second click on the same error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CursorRequest {
    pub line: usize,
    pub column: usize,
    pub seq: u64,
}

#[component]
pub fn CodeEditor(
    /// The text the editor opens with (rendered on the server too).
    initial: String,
    read_only: Signal<bool>,
    /// Every change of the text, once hydrated.
    on_change: Callback<String>,
    diagnostics: Signal<Vec<DiagnosticView>>,
    /// The completion schema as JSON (`GET /api/v1/scriptlets/schema`).
    schema: Signal<Option<String>>,
    cursor: Signal<Option<CursorRequest>>,
    /// The lines the last cases or fuzz run covered (`None`: no marks).
    #[prop(optional)]
    coverage: Signal<Option<CoverageView>>,
) -> impl IntoView {
    let mount = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    browser::bind(
        mount,
        initial.clone(),
        read_only,
        on_change,
        diagnostics,
        schema,
        cursor,
        coverage,
    );
    #[cfg(not(feature = "hydrate"))]
    let _ = (read_only, on_change, diagnostics, schema, cursor, coverage);
    view! {
        <div class="code-editor" node_ref=mount data-test="editor">
            <pre class="code-fallback" data-test="editor-fallback">{initial}</pre>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;

    use super::CursorRequest;
    use crate::types::{CoverageView, DiagnosticView};

    #[wasm_bindgen(raw_module = "/pkg/editor.js")]
    extern "C" {
        /// CodeMirror's `EditorView`.
        pub type EditorView;

        #[wasm_bindgen(js_name = createEditor)]
        fn create_editor(
            parent: &web_sys::HtmlElement,
            doc: &str,
            read_only: bool,
            nonce: &str,
            on_change: &js_sys::Function,
        ) -> EditorView;
        #[wasm_bindgen(js_name = setReadOnly)]
        fn set_read_only(view: &EditorView, read_only: bool);
        #[wasm_bindgen(js_name = setDiagnostics)]
        fn set_diagnostics(view: &EditorView, json: &str);
        #[wasm_bindgen(js_name = setSchema)]
        fn set_schema(view: &EditorView, json: &str);
        #[wasm_bindgen(js_name = setCoverage)]
        fn set_coverage(view: &EditorView, json: &str);
        #[wasm_bindgen(js_name = goTo)]
        fn go_to(view: &EditorView, line: usize, column: usize);
        fn destroy(view: &EditorView);
    }

    /// The nonce of this page's scripts (the CSP lets CodeMirror's `<style>` elements in with it).
    fn page_nonce() -> String {
        let script = document().query_selector("script[nonce]").ok().flatten();
        script
            .and_then(|script| js_sys::Reflect::get(&script, &JsValue::from_str("nonce")).ok())
            .and_then(|nonce| nonce.as_string())
            .unwrap_or_default()
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn bind(
        mount: NodeRef<leptos::html::Div>,
        initial: String,
        read_only: Signal<bool>,
        on_change: Callback<String>,
        diagnostics: Signal<Vec<DiagnosticView>>,
        schema: Signal<Option<String>>,
        cursor: Signal<Option<CursorRequest>>,
        coverage: Signal<Option<CoverageView>>,
    ) {
        let editor = StoredValue::new_local(None::<EditorView>);
        Effect::new(move |_| {
            let Some(element) = mount.get() else { return };
            if editor.with_value(Option::is_some) {
                return;
            }
            let listener = Closure::<dyn Fn(String)>::new(move |text: String| on_change.run(text));
            let view = create_editor(
                &element,
                &initial,
                read_only.get_untracked(),
                &page_nonce(),
                listener.as_ref().unchecked_ref(),
            );
            // The editor calls it for as long as it lives, which is the page's life.
            listener.forget();
            editor.set_value(Some(view));
        });
        Effect::new(move |_| {
            let read_only = read_only.get();
            editor.with_value(|view| view.as_ref().map(|view| set_read_only(view, read_only)));
        });
        Effect::new(move |_| {
            let json = diagnostics.with(|list| serde_json::to_string(list).unwrap_or_default());
            mount.track();
            editor.with_value(|view| view.as_ref().map(|view| set_diagnostics(view, &json)));
        });
        Effect::new(move |_| {
            let json = coverage.with(|coverage| {
                coverage
                    .as_ref()
                    .map(|c| serde_json::json!({"run": c.run, "unrun": c.unrun}).to_string())
                    .unwrap_or_default()
            });
            mount.track();
            editor.with_value(|view| view.as_ref().map(|view| set_coverage(view, &json)));
        });
        Effect::new(move |_| {
            let Some(json) = schema.get() else { return };
            mount.track();
            editor.with_value(|view| view.as_ref().map(|view| set_schema(view, &json)));
        });
        Effect::new(move |_| {
            let Some(request) = cursor.get() else { return };
            editor.with_value(|view| {
                view.as_ref()
                    .map(|view| go_to(view, request.line, request.column))
            });
        });
        on_cleanup(move || {
            editor.with_value(|view| view.as_ref().map(destroy));
        });
    }
}
