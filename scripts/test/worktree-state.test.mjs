// scripts/worktree-state.sh, the check at the end of scripts/test.sh that a
// test run leaves `git status` as it found it: in a scratch git repository,
// `save`, then what a run might do, then `check`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../worktree-state.sh", import.meta.url));

/** A repository with scripts/worktree-state.sh, a tracked README.md and an ignored pkg/. */
function scratchRepo() {
  const dir = mkdtempSync(join(tmpdir(), "crosscast-worktree-"));
  const git = (...args) =>
    execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], { cwd: dir });
  git("init", "-q");
  mkdirSync(join(dir, "scripts"));
  copyFileSync(script, join(dir, "scripts/worktree-state.sh"));
  writeFileSync(join(dir, "README.md"), "size: 1 byte\n");
  writeFileSync(join(dir, ".gitignore"), "/pkg/\n");
  git("add", ".");
  git("commit", "-q", "-m", "start");
  const saved = join(dir, "..", `${dir.split("/").pop()}.state`);
  const run = (mode) =>
    spawnSync("bash", ["scripts/worktree-state.sh", mode, saved], { cwd: dir, encoding: "utf8" });
  return {
    dir,
    save: () => assert.equal(run("save").status, 0),
    check: () => run("check"),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(saved, { force: true });
    },
  };
}

/** `before` runs before `save` (the developer's edits), `during` between `save` and `check`. */
function scenario(title, changed, { before = () => {}, during }) {
  test(title, () => {
    const repo = scratchRepo();
    try {
      before(repo.dir);
      repo.save();
      during(repo.dir);
      const result = repo.check();
      if (changed.length === 0) {
        assert.equal(result.status, 0, result.stderr);
        assert.equal(result.stderr, "");
      } else {
        assert.equal(result.status, 1);
        assert.deepEqual(
          result.stderr.trim().split("\n"),
          changed.map((p) => `worktree-state: changed by this run: ${p}`),
        );
      }
    } finally {
      repo.cleanup();
    }
  });
}

scenario("a run that writes only ignored files passes", [], {
  during: (dir) => {
    mkdirSync(join(dir, "pkg"));
    writeFileSync(join(dir, "pkg/size.json"), "{}");
  },
});

scenario("a run that rewrites a tracked file fails naming it", ["README.md"], {
  during: (dir) => writeFileSync(join(dir, "README.md"), "size: 2 bytes\n"),
});

scenario("a developer's own edit made before the run passes", [], {
  before: (dir) => appendFileSync(join(dir, "README.md"), "my note\n"),
  during: () => {},
});

scenario("a run that changes a file the developer had edited fails", ["README.md"], {
  before: (dir) => appendFileSync(join(dir, "README.md"), "my note\n"),
  during: (dir) => appendFileSync(join(dir, "README.md"), "from the run\n"),
});

scenario("a run that leaves a new untracked file fails", ["notes/out.txt"], {
  during: (dir) => {
    mkdirSync(join(dir, "notes"));
    writeFileSync(join(dir, "notes/out.txt"), "x");
  },
});

scenario("a run that deletes a tracked file fails", ["README.md"], {
  during: (dir) => unlinkSync(join(dir, "README.md")),
});
