//! Concurrency: separate processes writing at once lose no update. (Crashes: `tests/it/faults_crash.rs`,
//! which kills `set`, `rotate`, `import` and `pull` at random points.)

use crate::common;

use common::{code, stderr, TestVault};

#[test]
fn eight_processes_times_200_sets_lose_no_update() {
    const PROCS: usize = 8;
    const SETS: usize = 200;
    let tv = TestVault::new();
    std::thread::scope(|s| {
        for p in 0..PROCS {
            let tv = &tv;
            s.spawn(move || {
                for i in 0..SETS {
                    // Everyone writes the same name (so version numbers contend) and a name of its own.
                    for name in ["SHARED".to_string(), format!("OWN_{p}")] {
                        let out = tv.run_with_stdin(&["set", &name], format!("{p}-{i}").as_bytes());
                        assert_eq!(code(&out), 0, "process {p} set {i}: {}", stderr(&out));
                    }
                }
            });
        }
    });
    let hist: serde_json::Value =
        serde_json::from_slice(&tv.run(&["history", "SHARED", "--json"]).stdout).unwrap();
    let versions: Vec<u64> = hist["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(
        versions,
        (1..=(PROCS * SETS) as u64).collect::<Vec<_>>(),
        "one version per set, no gaps"
    );
    for p in 0..PROCS {
        assert_eq!(tv.get(&format!("OWN_{p}")), format!("{p}-{}", SETS - 1));
        let own: serde_json::Value =
            serde_json::from_slice(&tv.run(&["history", &format!("OWN_{p}"), "--json"]).stdout)
                .unwrap();
        assert_eq!(own["versions"].as_array().unwrap().len(), SETS);
    }
}
