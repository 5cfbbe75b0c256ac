// A stock automerge-repo client joins an Arxos relay with an invite URL, reads the plan and
// writes an element. Usage: node interop.mjs WS_URL AUTOMERGE_URL
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [wsUrl, docUrl] = process.argv.slice(2);
const fail = (msg) => {
  console.log(JSON.stringify({ event: "error", message: String(msg) }));
  process.exit(1);
};
setTimeout(() => fail("timed out"), 20000);

const adapter = new WebSocketClientAdapter(wsUrl);
const repo = new Repo({ network: [adapter] });
try {
  const handle = await repo.find(docUrl);
  const doc = handle.doc();
  console.log(
    JSON.stringify({
      event: "read",
      name: doc.meta?.name ?? null,
      elements: Object.keys(doc.elements ?? {}).sort(),
    }),
  );
  handle.change((d) => {
    // A plan element in the Arxos schema: one flat map, a key per property.
    d.elements["js-1"] = {
      kind: "outlet",
      tag: "outlet:js-1",
      geom: "point",
      floor: "f1",
      layer: "elec",
      x: 7.5,
    };
  });
  // Give the change time to reach the relay (the test checks it arrived).
  await new Promise((r) => setTimeout(r, 1500));
  console.log(JSON.stringify({ event: "wrote", heads: handle.heads() }));
  adapter.disconnect();
  process.exit(0);
} catch (e) {
  fail(e?.stack ?? e);
}
