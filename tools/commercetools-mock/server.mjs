// The commercetools emulator for the bridge's tests and local stack (started by
// scripts/ctmock.sh, or by a test with a piped stdin): `node server.mjs PORT`, 0 for a free
// port. Prints one line, `listening http://127.0.0.1:<port>`, once it answers; exits when its
// stdin closes or its parent dies (so a killed test run takes it down) and on SIGTERM/SIGINT.
import { CommercetoolsMock } from "@labdigital/commercetools-mock";

const port = Number.parseInt(process.argv[2] ?? "0", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`usage: node server.mjs PORT (0 = a free port), not ${process.argv[2]}`);
  process.exit(2);
}

const mock = new CommercetoolsMock({
  // Every API call needs a bearer token from /oauth/token, like the real API. In 4.4.0 it is
  // validateCredentials that makes the API check the token (src/oauth/server.ts
  // createMiddleware); with it false any request passes, token or not. Client id and secret
  // are never checked: any Basic credentials get a token.
  enableAuthentication: true,
  validateCredentials: true,
  defaultProjectKey: process.env.CTP_PROJECT_KEY || "bridge-local",
  // Drafts are checked against the API's schemas (400 on an invalid one, as the real API
  // does) instead of being stored as sent; the package's own server runs this way too.
  strict: true,
  silent: true,
});

// Test support, not commercetools: empties every project (tokens stay valid), so cases can
// start from nothing without a new server. Outside the /:projectKey routes and their token check.
mock.app.post("/-/clear", async (_request, reply) => {
  await mock.clear();
  return reply.status(204).send();
});

await mock.app.listen({ port, host: "127.0.0.1" });
process.stdout.write(`listening http://127.0.0.1:${mock.app.server.address().port}\n`);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  mock.app.close().finally(() => process.exit(0));
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
// A parent that dies may leave stdin open (its children inherit the write end): watch it too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();
