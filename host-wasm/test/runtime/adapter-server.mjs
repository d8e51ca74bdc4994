// A Socket.IO server on crosscast's sharded adapter in its own process, for
// tests that stop or kill a server. Usage: node adapter-server.mjs <redis port>;
// prints `ready <http port>` once it listens.
import { createServer } from "node:http";
import { Server } from "socket.io";
import Redis from "ioredis";
import { createShardedAdapter } from "../../js/index.mjs";

const pub = new Redis({ port: Number(process.argv[2]), host: "127.0.0.1" });
const sub = pub.duplicate();
const httpServer = createServer();
const io = new Server(httpServer);
io.adapter(createShardedAdapter(pub, sub));
httpServer.listen(0, "127.0.0.1", () => console.log(`ready ${httpServer.address().port}`));
process.on("SIGTERM", () => process.exit(0));
