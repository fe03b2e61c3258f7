// Request throughput of one Berth replica against two, on one PostgreSQL, as a load balancer
// would spread it: requests go round-robin over the replicas given. Node's fetch, a fixed
// number of requests in flight, a fixed duration per measurement.
//
//   node scripts/measure-replicas.mjs SECONDS CONCURRENCY URL_A [URL_B]
//
// Needs BERTH_USER and BERTH_PASSWORD (an author or higher). Prints one line per workload:
// the Cluster page (GET /, signed in) and a simulation (POST /api/v1/simulations, one create
// on the newest snapshot with a small scriptlet).
const [seconds, concurrency, ...urls] = process.argv.slice(2);
if (!urls.length) throw new Error("usage: SECONDS CONCURRENCY URL_A [URL_B]");
const duration = Number(seconds) * 1000;

async function signIn(url) {
  const response = await fetch(`${url}/api/v1/session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: process.env.BERTH_USER, password: process.env.BERTH_PASSWORD }),
  });
  if (response.status !== 200) throw new Error(`sign-in on ${url}: ${response.status}`);
  const body = await response.json();
  return { cookie: response.headers.get("set-cookie").split(";")[0], csrf: body.csrf_token };
}

const session = await signIn(urls[0]); // one session, valid on every replica
const scriptlet = "def instance_placement(request, candidate_members):\n    set_target(candidate_members[0].server_name)\n";
const workloads = {
  "cluster page": (url) => fetch(`${url}/`, { headers: { cookie: session.cookie } }),
  "simulation": (url) => fetch(`${url}/api/v1/simulations`, {
    method: "POST",
    headers: { cookie: session.cookie, "x-csrf-token": session.csrf, origin: url, "content-type": "application/json" },
    body: JSON.stringify({ snapshot_id: 1, source: scriptlet, operations: [{ kind: "create", project: "web", name: "load-1" }] }),
  }),
};

for (const [name, request] of Object.entries(workloads)) {
  let next = 0;
  let done = 0;
  let failed = 0;
  const end = Date.now() + duration;
  async function worker() {
    while (Date.now() < end) {
      const url = urls[next++ % urls.length];
      const response = await request(url);
      await response.arrayBuffer();
      if (response.ok) done++; else failed++;
    }
  }
  const started = Date.now();
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
  const elapsed = (Date.now() - started) / 1000;
  console.log(`${name}\t${urls.length} replica(s)\t${(done / elapsed).toFixed(1)} req/s\t${done} ok\t${failed} failed`);
}
