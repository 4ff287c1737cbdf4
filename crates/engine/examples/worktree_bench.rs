//! Times the workspace operations on a repository (bench/worktree.sh makes
//! one of 10,000 files and runs this in it).
//!
//! Usage: worktree_bench <repository> <data dir> [runs]
//!
//! Prints, in milliseconds (min / median / max over `runs` tasks): a fresh
//! `prepare` (new branch and worktree: the checkout) and, after each, a
//! plain `git worktree add` of the same commit for reference; `prepare` of
//! an existing worktree, `save` with one changed file and with nothing
//! changed, `changed_files`, `diff`, `merge` of that one-file change, and
//! `remove`. The plain worktrees are left in `<data dir>/plain`.

use std::path::Path;
use std::time::Instant;
use techlead_engine::git::Git;
use techlead_engine::workspace::{Abandon, Branch, MergeRequest, Strategy, Workspaces};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: worktree_bench <repository> <data dir> [runs]");
        std::process::exit(2);
    }
    let runs: usize = args.get(3).map_or(10, |runs| runs.parse().expect("runs"));
    let started = Instant::now();
    let git = Git::open(Path::new(&args[1])).expect("open");
    let open = started.elapsed();
    let workspaces = Workspaces::new(git, Path::new(&args[2]), "bench-1");
    workspaces.ensure_integration("HEAD").expect("integration");

    let mut times: [(&str, Vec<f64>); 9] = [
        ("prepare (new worktree)", Vec::new()),
        ("git worktree add (plain)", Vec::new()),
        ("prepare (existing)", Vec::new()),
        ("save (1 file changed)", Vec::new()),
        ("save (nothing changed)", Vec::new()),
        ("changed_files", Vec::new()),
        ("diff (64 KiB cap)", Vec::new()),
        ("merge (merge commit)", Vec::new()),
        ("remove (merged)", Vec::new()),
    ];
    let mut time = |index: usize, f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        times[index].1.push(start.elapsed().as_secs_f64() * 1000.0);
    };
    // Creating first, removing last: right after many files are deleted,
    // ext4 allocates inodes slowly for a while, which would be charged to
    // the next checkout.
    let tasks: Vec<String> = (0..runs).map(|run| format!("task-{run}")).collect();
    let plain = Path::new(&args[2]).join("plain");
    for (run, task) in tasks.iter().enumerate() {
        time(0, &mut || {
            workspaces.prepare(task).expect("prepare");
        });
        // The same checkout by hand, as a reference, under the same load.
        time(1, &mut || {
            let status = std::process::Command::new("git")
                .arg("-C")
                .arg(&args[1])
                .args(["worktree", "add", "--quiet", "-b", &format!("plain-{run}")])
                .arg(plain.join(run.to_string()))
                .arg("HEAD")
                .status()
                .expect("git");
            assert!(status.success());
        });
    }
    for (run, task) in tasks.iter().enumerate() {
        let mut path = None;
        time(2, &mut || {
            path = Some(workspaces.prepare(task).expect("prepare again"))
        });
        let path = path.unwrap();
        std::fs::write(path.join(format!("bench-{run}.txt")), "work\n").expect("write");
        time(3, &mut || {
            assert!(workspaces.save(task, "Work").expect("save").committed);
        });
        time(4, &mut || {
            assert!(!workspaces.save(task, "Nothing").expect("save").committed);
        });
        time(5, &mut || {
            workspaces.changed_files(task).expect("changed files");
        });
        time(6, &mut || {
            workspaces.diff(task, 64 * 1024).expect("diff");
        });
        let request = MergeRequest {
            task: task.clone(),
            title: "Bench".into(),
            agent: "bench".into(),
            strategy: Strategy::Merge,
        };
        time(7, &mut || {
            workspaces.merge(&request).expect("merge");
        });
    }
    for task in &tasks {
        time(8, &mut || {
            workspaces
                .remove(task, Branch::Delete, Abandon::No)
                .expect("remove");
        });
    }
    println!(
        "git {}, {runs} runs; Git::open (version check, top level) {:.1} ms",
        workspaces.git().version(),
        open.as_secs_f64() * 1000.0
    );
    println!(
        "{:<26} {:>9} {:>9} {:>9}",
        "operation", "min ms", "median", "max"
    );
    for (name, mut values) in times {
        values.sort_by(f64::total_cmp);
        println!(
            "{name:<26} {:>9.1} {:>9.1} {:>9.1}",
            values[0],
            values[values.len() / 2],
            values[values.len() - 1]
        );
    }
}
