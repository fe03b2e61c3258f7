
// Added by tools/wasm-split (`berth-wasm-split`): the modules of the page the browser opened
// come in one download, its pack, rather than one request each. Every `fetch` above of a module
// goes through `fetchModule`. A pack is a wasm file of custom sections only, one per module,
// named by the module's file name (`pkg/pack/<split module>.wasm`; the server may preload it).
// Compressed as one file, a page's modules are 11–24 % lighter than compressed one by one.
// Only the first page uses its pack: a page reached by navigating needs only the modules not
// loaded yet, and fetches them one by one, as does a retry.
const packDirectory = new URL("./pack/", import.meta.url);
/** The first page's modules by file name (a promise), once they are asked for. */
let pagePack;
/** The files asked for before the pack is chosen. */
let asked = [];

/** The pack's modules by name, from the bytes of a wasm module of custom sections. */
function readPack(buffer) {
    const bytes = new Uint8Array(buffer);
    const names = new TextDecoder();
    const modules = new Map();
    let at = 8;
    const leb = () => {
        let value = 0;
        let scale = 1;
        let byte;
        do {
            byte = bytes[at++];
            value += (byte & 0x7f) * scale;
            scale *= 128;
        } while (byte & 0x80);
        return value;
    };
    while (at < bytes.length) {
        const id = bytes[at++];
        const end = leb() + at;
        if (id === 0) {
            const length = leb();
            const name = names.decode(bytes.subarray(at, at + length));
            modules.set(name, bytes.subarray(at + length, end));
        }
        at = end;
    }
    return modules;
}

/** The modules of the page whose own module is among `files` (`split_<name>.wasm`, packed as
 *  `pack/<name>.wasm`), or none. */
function openPack(files) {
    const own = files.find((file) => file.startsWith("split_"));
    if (own === undefined) return Promise.resolve(new Map());
    const url = new URL(own.slice("split_".length), packDirectory);
    return fetch(url)
        .then((response) => (response.ok ? response.arrayBuffer() : Promise.reject(new Error(`${url}: ${response.status}`))))
        .then(readPack)
        .catch((error) => {
            console.warn("the page's modules are fetched one by one:", error);
            return new Map();
        });
}

function fetchModule(url) {
    const file = url.pathname.slice(url.pathname.lastIndexOf("/") + 1);
    if (pagePack === undefined) {
        // A page's module and the chunks it needs are all asked for in one task, before the
        // first of them is awaited: the pack is chosen once that task is over.
        pagePack = Promise.resolve().then(() => {
            const files = asked;
            asked = null;
            return openPack(files);
        });
    }
    asked?.push(file);
    return pagePack.then((modules) => {
        const bytes = modules.get(file);
        if (bytes === undefined) return fetch(url);
        modules.delete(file);
        return new Response(bytes, { headers: { "Content-Type": "application/wasm" } });
    });
}
