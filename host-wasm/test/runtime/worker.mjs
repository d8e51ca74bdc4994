// A Cloudflare worker (run by workerd) that keeps the wasm Emitter inside the
// worker and publishes through a bare publish function: fetch() to the test
// harness on loopback, which PUBLISHes the bytes into Redis.
import { Emitter, CrosscastError } from "./crosscast/js/workerd.mjs";

export default {
  async fetch(request, env) {
    const statuses = [];
    const publish = async (channel, payload) => {
      const url = `${env.HARNESS}/publish?channel=${encodeURIComponent(channel)}`;
      const res = await fetch(url, { method: "POST", body: payload });
      statuses.push(`${res.status} ${await res.text()}`);
    };
    const emitter = new Emitter(publish);
    await emitter.to("rt").emit("from-runtime", "workerd", new Uint8Array([7, 8]));
    await emitter.serverSideEmit("srv-runtime", "workerd");
    let code = null;
    try {
      emitter.emit("disconnect");
    } catch (err) {
      code = err instanceof CrosscastError ? err.code : `not a CrosscastError: ${err}`;
    }
    return Response.json({ runtime: "workerd", replies: statuses, code });
  },
};
