//! The scriptlet editor: CodeMirror 6 (bundled from npm into `/pkg/editor.js`, see `editor/`)
//! bound through wasm-bindgen, and imported (`import()`) only when an editor mounts, so that
//! pages without one never download it.
//!
//! On the server, and in a browser before the wasm and CodeMirror have loaded, the editor is the
//! scriptlet in a `<pre>`: the page reads without JavaScript. Then CodeMirror replaces it; the
//! page hands it diagnostics (as lint markers), the lines a run covered (a gutter of run and
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
            // Focusable and named: a long scriptlet scrolls, and a keyboard must reach it to
            // scroll it (axe's scrollable-region-focusable) before CodeMirror is up, or without
            // JavaScript.
            <pre class="code-fallback" data-test="editor-fallback" tabindex="0" role="region" aria-label="The scriptlet's text">{initial}</pre>
        </div>
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen_futures::JsFuture;

    use super::CursorRequest;
    use crate::types::{CoverageView, DiagnosticView};

    // A dynamic `import()`, so that CodeMirror is fetched only when an editor mounts: a
    // `#[wasm_bindgen(module = ...)]` binding would become a static import in `berth.js`, which
    // every page loads. wasm-bindgen writes this snippet beside `berth.js` (`/pkg/snippets/`).
    #[wasm_bindgen(inline_js = "export function importEditor() { return import('/pkg/editor.js'); }")]
    extern "C" {
        #[wasm_bindgen(js_name = importEditor)]
        fn import_editor() -> js_sys::Promise;
    }

    #[wasm_bindgen]
    extern "C" {
        /// The module `/pkg/editor.js` (`editor/src/editor.js`) once imported: its exports are
        /// called as methods of the module namespace.
        type EditorModule;
        /// CodeMirror's `EditorView`.
        type EditorView;

        #[wasm_bindgen(method, js_name = createEditor)]
        fn create_editor(
            this: &EditorModule,
            parent: &web_sys::HtmlElement,
            doc: &str,
            read_only: bool,
            nonce: &str,
            on_change: &js_sys::Function,
        ) -> EditorView;
        #[wasm_bindgen(method, js_name = setReadOnly)]
        fn set_read_only(this: &EditorModule, view: &EditorView, read_only: bool);
        #[wasm_bindgen(method, js_name = setDiagnostics)]
        fn set_diagnostics(this: &EditorModule, view: &EditorView, json: &str);
        #[wasm_bindgen(method, js_name = setSchema)]
        fn set_schema(this: &EditorModule, view: &EditorView, json: &str);
        #[wasm_bindgen(method, js_name = setCoverage)]
        fn set_coverage(this: &EditorModule, view: &EditorView, json: &str);
        #[wasm_bindgen(method, js_name = goTo)]
        fn go_to(this: &EditorModule, view: &EditorView, line: usize, column: usize);
        #[wasm_bindgen(method)]
        fn destroy(this: &EditorModule, view: &EditorView);
    }

    /// A mounted CodeMirror and the module that drives it.
    struct Editor {
        module: EditorModule,
        view: EditorView,
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
        let editor = StoredValue::new_local(None::<Editor>);
        // Set once CodeMirror has mounted: the effects below then hand it what the page
        // already holds (diagnostics, schema, …), and every change after that.
        let ready = RwSignal::new(false);
        let loading = StoredValue::new(false);
        Effect::new(move |_| {
            let Some(element) = mount.get() else { return };
            if loading.get_value() {
                return;
            }
            loading.set_value(true);
            let initial = initial.clone();
            leptos::task::spawn_local(async move {
                let module = match JsFuture::from(import_editor()).await {
                    Ok(module) => module.unchecked_into::<EditorModule>(),
                    Err(error) => {
                        // The scriptlet stays readable in its fallback `<pre>`.
                        leptos::logging::error!("the editor could not be loaded: {error:?}");
                        return;
                    }
                };
                // The page may have moved on while the module loaded.
                if editor.is_disposed() {
                    return;
                }
                let listener = Closure::<dyn Fn(String)>::new(move |text: String| on_change.run(text));
                let view = module.create_editor(
                    &element,
                    &initial,
                    read_only.get_untracked(),
                    &page_nonce(),
                    listener.as_ref().unchecked_ref(),
                );
                // The editor calls it for as long as it lives, which is the page's life.
                listener.forget();
                editor.set_value(Some(Editor { module, view }));
                ready.set(true);
            });
        });
        // Runs `apply` on the editor once it has mounted (and not before: `ready` re-runs the
        // effect that calls it when it does).
        let with_editor = move |apply: &dyn Fn(&Editor)| {
            ready.track();
            editor.with_value(|editor| editor.as_ref().map(apply));
        };
        Effect::new(move |_| {
            let read_only = read_only.get();
            with_editor(&|e| e.module.set_read_only(&e.view, read_only));
        });
        Effect::new(move |_| {
            let json = diagnostics.with(|list| serde_json::to_string(list).unwrap_or_default());
            with_editor(&|e| e.module.set_diagnostics(&e.view, &json));
        });
        Effect::new(move |_| {
            let json = coverage.with(|coverage| {
                coverage
                    .as_ref()
                    .map(|c| serde_json::json!({"run": c.run, "unrun": c.unrun}).to_string())
                    .unwrap_or_default()
            });
            with_editor(&|e| e.module.set_coverage(&e.view, &json));
        });
        Effect::new(move |_| {
            let Some(json) = schema.get() else { return };
            with_editor(&|e| e.module.set_schema(&e.view, &json));
        });
        Effect::new(move |_| {
            let Some(request) = cursor.get() else { return };
            with_editor(&|e| e.module.go_to(&e.view, request.line, request.column));
        });
        on_cleanup(move || {
            editor.with_value(|editor| editor.as_ref().map(|editor| editor.module.destroy(&editor.view)));
        });
    }
}
