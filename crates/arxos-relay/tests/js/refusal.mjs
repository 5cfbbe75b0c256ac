// A stock automerge-repo client makes a change the relay refuses, then stays connected:
// it reports how many messages crossed its socket in 5 idle seconds after the refusal, and
// whether it still receives an edit someone else makes afterwards.
// Usage: node refusal.mjs WS_URL AUTOMERGE_URL ELEMENT_TO_CHANGE ELEMENT_TO_AWAIT
// Prints JSON lines: {"event":"idle",...} after the idle window (the test then makes its
// edit), then {"event":"received"} when ELEMENT_TO_AWAIT appears.
import { Repo } from "@automerge/automerge-repo";
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";

const [wsUrl, docUrl, changeId, awaitId] = process.argv.slice(2);
const say = (event) => console.log(JSON.stringify(event));
const fail = (msg) => {
  say({ event: "error", message: String(msg) });
  process.exit(1);
};
setTimeout(() => fail("timed out"), 30000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const adapter = new WebSocketClientAdapter(wsUrl);
let received = 0;
let sent = 0;
adapter.on("message", () => {
  received += 1;
});
const send = adapter.send.bind(adapter);
adapter.send = (message) => {
  sent += 1;
  return send(message);
};
const repo = new Repo({ network: [adapter] });
try {
  const handle = await repo.find(docUrl);
  handle.change((d) => {
    d.elements[changeId].x = 99;
  });
  // The refusal arrives within a round trip; then the room is idle.
  await sleep(1000);
  received = 0;
  sent = 0;
  await sleep(5000);
  say({ event: "idle", received, sent });
  for (let i = 0; i < 200; i++) {
    if (handle.doc().elements?.[awaitId]) {
      say({ event: "received", x: handle.doc().elements[awaitId].x });
      adapter.disconnect();
      process.exit(0);
    }
    await sleep(50);
  }
  fail(`${awaitId} never arrived`);
} catch (e) {
  fail(e?.stack ?? e);
}
