//! "Did you mean": the closest of some known words to a mistyped one, by edit distance.
//!
//! Twenty lines of edit distance rather than a crate: the inputs are short names and a few hundred
//! candidates at most, and only an error path calls it.

/// The edit distance between `a` and `b` by characters: insertions, deletions, substitutions and
/// swaps of two neighbours (`prdo` → `prod` is one edit), i.e. the optimal string alignment distance.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The candidate closest to `word`, ignoring case, if it is close enough to be a typo: at most one
/// edit per four characters (and at least one), never `word` itself.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let upper = word.to_uppercase();
    let limit = (word.chars().count() / 4).max(1);
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (distance(&upper, &c.to_uppercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("prod", "prod"), 0);
        assert_eq!(distance("prdo", "prod"), 1);
        assert_eq!(distance("DATABSE_URL", "DATABASE_URL"), 1);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("", "abc"), 3);
    }

    #[test]
    fn closest_takes_typos_and_case_but_not_strangers() {
        let names = ["DATABASE_URL", "STRIPE_KEY", "API_TOKEN"];
        assert_eq!(closest("DATABSE_URL", names), Some("DATABASE_URL"));
        assert_eq!(closest("database_url", names), Some("DATABASE_URL"));
        assert_eq!(closest("STRIPE_KEYS", names), Some("STRIPE_KEY"));
        assert_eq!(closest("SENTRY_DSN", names), None);
        assert_eq!(closest("prdo", ["dev", "prod", "staging"]), Some("prod"));
        assert_eq!(closest("qa", ["dev", "prod"]), None);
    }
}
