// Checks the Cargo manifests of the workspace and of fuzz/ (its own
// workspace) for what publishing needs, from `cargo metadata --no-deps`:
//   - every crate has `license = "MIT OR Apache-2.0"`;
//   - no path dependency lacks a version (crates.io rejects those; `cargo
//     package` could only guess), except a crate's dev-dependency on itself
//     (crosscast-core's tests turning on its `codec` feature), which `cargo
//     package` drops since it has no version;
//   - every crate that may be published (no `publish = false`) has a
//     description, a documentation link, a README and the two license files
//     in its own directory (so that they are in its package).
// One line per problem on stderr and exit 1; silent when all is well.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const LICENSE = "MIT OR Apache-2.0";

function metadata(manifest) {
  const out = execFileSync(
    "cargo",
    ["metadata", "--format-version", "1", "--no-deps", "--manifest-path", join(root, manifest)],
    { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(out).packages;
}

const problems = [];
for (const pkg of [...metadata("Cargo.toml"), ...metadata("fuzz/Cargo.toml")]) {
  const dir = dirname(pkg.manifest_path);
  const where = `${pkg.name} (${relative(root, pkg.manifest_path)})`;
  if (pkg.license !== LICENSE) problems.push(`${where}: license is ${JSON.stringify(pkg.license)}, not "${LICENSE}"`);
  for (const dep of pkg.dependencies) {
    const ownFeatures = dep.kind === "dev" && dep.name === pkg.name;
    if (dep.path && dep.req === "*" && !ownFeatures) problems.push(`${where}: path dependency ${dep.name} has no version`);
  }
  const publishable = pkg.publish === null || pkg.publish.length > 0;
  if (!publishable) continue;
  if (!pkg.description) problems.push(`${where}: no description`);
  if (!pkg.documentation) problems.push(`${where}: no documentation link`);
  if (!pkg.readme || !existsSync(join(dir, pkg.readme))) problems.push(`${where}: no README`);
  for (const file of ["LICENSE-MIT", "LICENSE-APACHE"]) {
    if (!existsSync(join(dir, file))) problems.push(`${where}: no ${file} in ${relative(root, dir) || "."}`);
  }
}
for (const p of problems) console.error(`check-manifests: ${p}`);
process.exit(problems.length > 0 ? 1 : 0);
