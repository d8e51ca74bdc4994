// The `prepack` step of the npm package (npm runs it for `npm pack` and
// `npm publish`): every file of pkg/ that package.json ships must exist and be
// newer than every source it is built from (js/, the crate's src/ and
// Cargo.toml, and ../core/src/ when it is there), so that a tarball never
// ships a missing or stale build. Otherwise one line on stderr and exit 1:
// run `bash build.sh` first.
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("..", import.meta.url));

function newest(path) {
  if (!existsSync(path)) return { time: 0, path };
  const stat = statSync(path);
  if (!stat.isDirectory()) return { time: stat.mtimeMs, path };
  return readdirSync(path)
    .map((name) => newest(join(path, name)))
    .reduce((a, b) => (b.time > a.time ? b : a), { time: 0, path });
}

const shipped = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"))
  .files.filter((f) => f.startsWith("pkg/"));
const source = ["js", "src", "Cargo.toml", "../core/src"]
  .map((p) => newest(join(dir, p)))
  .reduce((a, b) => (b.time > a.time ? b : a));

for (const file of shipped) {
  const path = join(dir, file);
  if (!existsSync(path)) {
    console.error(`check-built: ${file} is missing: run \`bash build.sh\` before packing`);
    process.exit(1);
  }
  if (statSync(path).mtimeMs < source.time) {
    console.error(`check-built: ${file} is older than ${source.path}: run \`bash build.sh\` before packing`);
    process.exit(1);
  }
}
