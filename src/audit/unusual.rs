//! `keep audit --unusual`: simple, explainable rules over the log, in the sense of the project brief
//! ("who read prod secrets, from where, and was anything odd"). No scoring, no learning: each finding
//! names the rule and the entry so a person can judge it.
//!
//! Rules (thresholds from `keep.toml` `[audit]`, defaults below):
//! - `new-user` / `new-host`: the first entry of a user or host not seen in any earlier entry (the
//!   log's first entry sets the baseline);
//! - `burst`: one user@host read more than `burst_reads` distinct secrets within `burst_window`;
//! - `sensitive-read`: a read of an environment marked `sensitive = true` in `[env.NAME]`;
//! - `failed-unlocks`: at least `failed_unlocks` failed unlocks within `failed_unlock_window`.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Duration;

use serde::Serialize;

use super::{Action, Record};
use crate::config::Config;
use crate::error::Result;

/// The thresholds.
#[derive(Clone, Debug)]
pub struct Rules {
    pub burst_reads: usize,
    pub burst_window: Duration,
    pub failed_unlocks: usize,
    pub failed_unlock_window: Duration,
    pub new_user_host: bool,
    /// `(project, env)` pairs whose reads are flagged; project `None` matches any project.
    pub sensitive: Vec<(Option<String>, String)>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            burst_reads: 20,
            burst_window: Duration::from_secs(60),
            failed_unlocks: 3,
            failed_unlock_window: Duration::from_secs(600),
            new_user_host: true,
            sensitive: Vec::new(),
        }
    }
}

impl Rules {
    /// The rules of a project's `keep.toml`, defaults where it says nothing.
    pub fn from_config(config: Option<&Config>) -> Result<Rules> {
        let mut r = Rules::default();
        let Some(c) = config else {
            return Ok(r);
        };
        let a = &c.audit;
        if let Some(n) = a.burst_reads {
            r.burst_reads = n;
        }
        if let Some(w) = a.burst_window {
            r.burst_window = w;
        }
        if let Some(n) = a.failed_unlocks {
            r.failed_unlocks = n.max(1);
        }
        if let Some(w) = a.failed_unlock_window {
            r.failed_unlock_window = w;
        }
        if let Some(b) = a.new_user_host {
            r.new_user_host = b;
        }
        r.sensitive = c
            .env
            .iter()
            .filter(|(_, e)| e.sensitive)
            .map(|(name, _)| (c.project.clone(), name.clone()))
            .collect();
        Ok(r)
    }
}

/// One unusual thing.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub rule: &'static str,
    /// The entry that triggered it (`None` for a failed unlock not yet folded into the chain).
    pub seq: Option<u64>,
    /// RFC 3339.
    pub time: String,
    pub user: String,
    pub host: String,
    pub detail: String,
    /// False when the triggering entry is a failed unlock, written without the key (`failed.rs`).
    pub authenticated: bool,
}

/// One user@host's recent reads `(ms, address)`, and the time until which a burst was reported.
type ReadWindow = (VecDeque<(u64, String)>, u64);

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// Apply `rules` to `records` (oldest first).
pub fn check(records: &[Record], rules: &Rules) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |rule, r: &Record, detail: String| Finding {
        rule,
        seq: r.seq,
        time: humantime::format_rfc3339_seconds(super::entry::time_of(r.body.t)).to_string(),
        user: r.body.user.clone(),
        host: r.body.host.clone(),
        detail,
        authenticated: r.authenticated(),
    };
    let mut users: HashSet<&str> = HashSet::new();
    let mut hosts: HashSet<&str> = HashSet::new();
    // Per user@host: the recent reads, and the time until which a burst was already reported.
    let mut reads: HashMap<(&str, &str), ReadWindow> = HashMap::new();
    let mut failures: VecDeque<u64> = VecDeque::new();
    let mut failures_reported_until = 0u64;
    for (i, r) in records.iter().enumerate() {
        let b = &r.body;
        if rules.new_user_host && i > 0 {
            if !users.contains(b.user.as_str()) {
                out.push(finding(
                    "new-user",
                    r,
                    format!("first entry by user {}", b.user),
                ));
            }
            if !hosts.contains(b.host.as_str()) {
                out.push(finding(
                    "new-host",
                    r,
                    format!("first entry from host {}", b.host),
                ));
            }
        }
        users.insert(&b.user);
        hosts.insert(&b.host);
        match b.action {
            Action::Read => {
                if let Some(addr) = &r.address {
                    let sensitive = rules.sensitive.iter().any(|(p, e)| {
                        e == addr.scope.env()
                            && p.as_deref().is_none_or(|p| p == addr.scope.project())
                    });
                    if sensitive {
                        out.push(finding(
                            "sensitive-read",
                            r,
                            format!("{addr} read by `keep {}`", b.command),
                        ));
                    }
                    let (window, reported_until) = reads.entry((&b.user, &b.host)).or_default();
                    window.push_back((b.t, addr.to_string()));
                    while window
                        .front()
                        .is_some_and(|(t, _)| b.t.saturating_sub(*t) > ms(rules.burst_window))
                    {
                        window.pop_front();
                    }
                    let distinct: BTreeSet<&str> = window.iter().map(|(_, a)| a.as_str()).collect();
                    if distinct.len() > rules.burst_reads && b.t >= *reported_until {
                        *reported_until = b.t + ms(rules.burst_window);
                        out.push(finding(
                            "burst",
                            r,
                            format!(
                                "{} distinct secrets read within {}",
                                distinct.len(),
                                humantime::format_duration(rules.burst_window)
                            ),
                        ));
                    }
                }
            }
            Action::UnlockFailed => {
                failures.push_back(b.t);
                while failures
                    .front()
                    .is_some_and(|t| b.t.saturating_sub(*t) > ms(rules.failed_unlock_window))
                {
                    failures.pop_front();
                }
                if failures.len() >= rules.failed_unlocks && b.t >= failures_reported_until {
                    failures_reported_until = b.t + ms(rules.failed_unlock_window);
                    out.push(finding(
                        "failed-unlocks",
                        r,
                        format!(
                            "{} failed unlocks within {}",
                            failures.len(),
                            humantime::format_duration(rules.failed_unlock_window)
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Body;
    use crate::scope::{Address, Scope};

    fn rec(seq: u64, t: u64, user: &str, action: Action, addr: Option<&str>) -> Record {
        let mut body = Body::now(action, "ok");
        body.t = t;
        body.user = user.into();
        body.host = "h".into();
        Record {
            seq: Some(seq),
            body,
            address: addr.map(|a| Address::parse(a, &Scope::new("p", "dev").unwrap()).unwrap()),
            damaged: false,
        }
    }

    fn rules() -> Rules {
        Rules {
            burst_reads: 3,
            sensitive: vec![(Some("p".into()), "prod".into())],
            ..Rules::default()
        }
    }

    #[test]
    fn quiet_log_has_no_findings() {
        let log: Vec<Record> = (0..10)
            .map(|i| rec(i, i * 120_000, "alice", Action::Read, Some("A")))
            .collect();
        assert!(check(&log, &rules()).is_empty());
    }

    #[test]
    fn each_rule_fires() {
        let mut log = vec![rec(1, 0, "alice", Action::Unlock, None)];
        log.push(rec(
            2,
            1000,
            "mallory",
            Action::Read,
            Some("keep://p/prod/DB"),
        ));
        for (i, n) in ["A", "B", "C", "D"].iter().enumerate() {
            log.push(rec(
                3 + i as u64,
                2000 + i as u64,
                "alice",
                Action::Read,
                Some(n),
            ));
        }
        for i in 0..3 {
            log.push(rec(10 + i, 5000 + i, "alice", Action::UnlockFailed, None));
        }
        let rules_hit: Vec<&str> = check(&log, &rules()).iter().map(|f| f.rule).collect();
        assert_eq!(
            rules_hit,
            ["new-user", "sensitive-read", "burst", "failed-unlocks"]
        );
    }

    #[test]
    fn reads_spread_over_time_are_not_a_burst() {
        let log: Vec<Record> = ["A", "B", "C", "D", "E"]
            .iter()
            .enumerate()
            .map(|(i, n)| rec(i as u64, i as u64 * 61_000, "alice", Action::Read, Some(n)))
            .collect();
        assert!(check(&log, &rules()).is_empty());
    }
}
