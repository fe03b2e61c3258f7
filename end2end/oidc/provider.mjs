// A real OpenID provider for the single sign-on tests: panva's oidc-provider (OpenID Certified),
// with its development login and consent pages, in this node process, on loopback.
//
// In front of it, a small proxy that is the issuer's public address: everything passes through
// unchanged unless a test sets a mode, to see what Berth makes of an answer it must refuse
// (the provider itself stays untouched):
//   "tamper"       one byte of the ID token's signature changed in the token endpoint's answer
//   "other-client" the browser's authorization request and Berth's code exchange are made as
//                  the provider's other client: the ID token, validly signed, is for another
//                  audience
//   "expire"       the ID token lives one second, and the token answer is held for two
import http from "node:http";
import Provider from "oidc-provider";

export const CLIENT_ID = "berth";
export const CLIENT_SECRET = "berth-client-secret-for-tests-only";
const OTHER_CLIENT_ID = "other-app";
const OTHER_CLIENT_SECRET = "other-client-secret-for-tests-only";

/** The provider's users: their groups are what Berth maps to roles (tests may change them). */
export const accounts = {
  alice: { groups: ["berth-admins", "sre"] },
  sam: { groups: ["sre", "dev"] },
  bob: { groups: ["marketing"] },
};

/** Starts the provider and its proxy; `callback` is Berth's redirect URI. */
export async function startProvider({ callback }) {
  let mode = "none";
  const proxy = http.createServer();
  await listen(proxy);
  const issuer = `http://127.0.0.1:${proxy.address().port}`;

  const provider = new Provider(issuer, {
    clients: [
      { client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [callback] },
      { client_id: OTHER_CLIENT_ID, client_secret: OTHER_CLIENT_SECRET, redirect_uris: [callback] },
    ],
    claims: { openid: ["sub"], profile: ["preferred_username"], groups: ["groups"] },
    // The scopes' claims in the ID token itself, as Berth reads them there.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: { IdToken: () => (mode === "expire" ? 1 : 3600) },
    cookies: { keys: ["a-cookie-key-for-the-test-provider"] },
    async findAccount(_ctx, id) {
      const account = accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: id, groups: [...account.groups] };
        },
      };
    },
  });
  const backend = http.createServer(provider.callback());
  await listen(backend);
  const target = backend.address().port;

  proxy.on("request", (request, response) => {
    forward(request, response, target, () => mode).catch((error) => {
      response.statusCode = 502;
      response.end(String(error));
    });
  });

  return {
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    setMode(next) {
      mode = next;
    },
    async close() {
      proxy.closeAllConnections();
      backend.closeAllConnections();
      await Promise.all([close(proxy), close(backend)]);
    },
  };
}

async function forward(request, response, port, mode) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  let path = request.url;
  const headers = { ...request.headers };
  if (mode() === "other-client") {
    if (path.startsWith("/auth")) {
      const url = new URL(path, "http://x");
      if (url.searchParams.get("client_id") === CLIENT_ID) url.searchParams.set("client_id", OTHER_CLIENT_ID);
      path = url.pathname + url.search;
    }
    if (path.startsWith("/token")) {
      headers.authorization = `Basic ${Buffer.from(`${OTHER_CLIENT_ID}:${OTHER_CLIENT_SECRET}`).toString("base64")}`;
    }
  }
  const answer = await new Promise((resolve, reject) => {
    const outgoing = http.request({ host: "127.0.0.1", port, method: request.method, path, headers }, resolve);
    outgoing.on("error", reject);
    outgoing.end(body);
  });
  const answerChunks = [];
  for await (const chunk of answer) answerChunks.push(chunk);
  let answerBody = Buffer.concat(answerChunks);
  const answerHeaders = { ...answer.headers };
  if (path.startsWith("/token") && answer.statusCode === 200) {
    if (mode() === "tamper") {
      const json = JSON.parse(answerBody.toString());
      const [header, payload, signature] = json.id_token.split(".");
      const flipped = (signature[10] === "A" ? "B" : "A");
      json.id_token = [header, payload, signature.slice(0, 10) + flipped + signature.slice(11)].join(".");
      answerBody = Buffer.from(JSON.stringify(json));
    }
    if (mode() === "expire") await new Promise((resolve) => setTimeout(resolve, 2000));
    answerHeaders["content-length"] = String(answerBody.length);
  }
  response.writeHead(answer.statusCode, answerHeaders);
  response.end(answerBody);
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
}

function close(server) {
  return new Promise((resolve) => server.close(() => resolve()));
}
