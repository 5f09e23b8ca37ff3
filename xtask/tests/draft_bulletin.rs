//! `cargo xtask draft-bulletin`, run as the binary on a throwaway git repository: the commits
//! since the previous patch's last one, mapped to entries, printed or appended.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.org"])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repo)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn commit(repo: &Path, file: &str, message: &str) {
    let path = repo.join(file);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let before = fs::read_to_string(&path).unwrap_or_default();
    fs::write(&path, format!("{before}{message}\n")).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

fn patch(repo: &Path, version: &str) {
    let dir = repo.join("patches").join(version);
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(
        dir.join("patch.toml"),
        format!("[patch]\nversion = \"{version}\"\n"),
    )
    .unwrap();
    fs::write(
        dir.join("docs/bulletin.toml"),
        format!("summary = \"{version}\"\n"),
    )
    .unwrap();
}

fn draft(repo: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("draft-bulletin")
        .args(args)
        .current_dir(repo)
        .output()
        .expect("run xtask")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn entries_come_from_the_commits_since_the_previous_patch() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    commit(repo, "app/a.txt", "feat: before 1.0.0, not in the draft");
    patch(repo, "1.0.0");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "chore: release 1.0.0"]);
    commit(repo, "app/a.txt", "feat(team): member avatars (#12)");
    commit(
        repo,
        "app/b.txt",
        "fix(security): escape site names\n\nA name with markup was shown as is.\n\nRefs: SEC-3",
    );
    commit(repo, "app/a.txt", "chore: bump dependencies");
    commit(repo, "app/c.txt", "perf!: one query for the team page");
    commit(repo, "app/a.txt", "Unconventional subject");
    patch(repo, "1.1.0");
    commit(repo, "app/d.txt", "fix: the shop's euro sign");

    let out = draft(repo, &["patches/1.1.0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("the last commit of the previous patch 1.0.0"),
        "{stderr}"
    );
    assert!(
        stderr.contains("6 commit(s), 4 entries drafted, 2 skipped"),
        "{stderr}"
    );
    insta::assert_snapshot!(text(&out.stdout));

    // --since overrides the default; --write appends and the bulletin still loads.
    let out = draft(repo, &["patches/1.1.0", "--since", "HEAD~1", "--write"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    let bulletin =
        bascule_patch::docs::Bulletin::load(&repo.join("patches/1.1.0/docs/bulletin.toml"))
            .expect("the bulletin loads");
    assert_eq!(bulletin.summary.as_deref(), Some("1.1.0"));
    let titles: Vec<&str> = bulletin.entries.iter().map(|e| e.title.as_str()).collect();
    assert_eq!(titles, ["The shop's euro sign"]);
}

#[test]
fn without_a_previous_patch_the_whole_history_is_read_and_said() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    git(repo, &["init", "-q"]);
    patch(repo, "1.0.0");
    commit(repo, "app/a.txt", "feat: the first page");
    let out = draft(repo, &["patches/1.0.0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no patch of a lower version beside patches/1.0.0"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("title = \"The first page\""));

    let out = draft(repo, &["patches/9.9.9"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("patch.toml"), "{out:?}");
}
